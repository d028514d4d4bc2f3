// tap's own closing line is `# { total, pass }`; CI reads a plain `N passed, N failed` line.
// A module reporter must be a Transform: tap pipes its TAP stream through it.
// Before that line it repeats every failure (file, test, the first lines of its diagnostics), so
// whoever reads only the end of a CI log sees what failed.
import { Transform } from 'node:stream';
const DIAG_LINES = 14;
export default class SummaryReporter extends Transform {
  pass = 0; fail = 0; skip = 0; innerFail = 0; tail = '';
  pending = []; // failures inside the file being reported, with their diagnostics
  diag = null; // the failure whose YAML block is being read
  failures = [];
  _transform(c, _e, cb) { const ls = (this.tail + c).split('\n'); this.tail = ls.pop(); ls.forEach((l) => this.count(l)); cb(null, c); }
  count(l) {
    let m;
    if (this.diag) {
      if (/^\s*\.\.\.\s*$/.test(l)) this.diag = null;
      else if (this.diag.length < DIAG_LINES) this.diag.push(l);
    }
    if ((m = /^( +)(not )?ok \d+\b.*?(# (SKIP|TODO)\b)?/i.exec(l))) {
      if (m[2] && !m[4]) { this.diag = [l]; this.pending.push(this.diag); }
      if (m[1].length !== 4) return;
      if (m[4]) this.skip++; else if (m[2]) { this.fail++; this.innerFail++; } else this.pass++;
    } else if ((m = /^(not )?ok \d+ - /.exec(l))) {
      if (m[1] && !this.innerFail) this.fail++;
      if (m[1]) this.failures.push([l, ...this.pending.flat()]);
      this.innerFail = 0; this.pending = []; this.diag = null;
    }
  }
  _flush(cb) {
    if (this.tail) this.count(this.tail);
    const failed = this.failures.length ? `\n=== failures\n${this.failures.map((f) => f.join('\n')).join('\n')}\n` : '';
    cb(null, `${failed}\n${this.pass} passed, ${this.fail} failed, ${this.skip} skipped\n`);
  }
}
