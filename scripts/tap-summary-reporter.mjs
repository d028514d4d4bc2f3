// tap's own closing line is `# { total, pass }`; CI reads a plain `N passed, N failed` line.
// A module reporter must be a Transform: tap pipes its TAP stream through it.
import { Transform } from 'node:stream';
export default class SummaryReporter extends Transform {
  pass = 0; fail = 0; skip = 0; innerFail = 0; tail = '';
  _transform(c, _e, cb) { const ls = (this.tail + c).split('\n'); this.tail = ls.pop(); ls.forEach((l) => this.count(l)); cb(null, c); }
  count(l) {
    let m;
    if ((m = /^ {4}(not )?ok \d+\b.*?(# (SKIP|TODO)\b)?/i.exec(l))) {
      if (m[3]) this.skip++; else if (m[1]) { this.fail++; this.innerFail++; } else this.pass++;
    } else if ((m = /^(not )?ok \d+ - /.exec(l))) {
      if (m[1] && !this.innerFail) this.fail++;
      this.innerFail = 0;
    }
  }
  _flush(cb) { if (this.tail) this.count(this.tail); cb(null, `\n${this.pass} passed, ${this.fail} failed, ${this.skip} skipped\n`); }
}
