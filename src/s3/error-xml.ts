/** S3 error bodies: `<Error><Code/><Message/>…<RequestId/></Error>`, and reading upstream ones. */
/**
 * Escapes for XML text; characters XML 1.0 does not allow at all (controls, lone surrogates,
 * U+FFFE/U+FFFF — not even as `&#x1;`) become U+FFFD, or no SDK could parse the error (an echoed
 * credential or trailer can carry them; found by fuzzing).
 */
function esc(s: string): string {
  return s
    .replace(/[^\t\n\r\u0020-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu, '\uFFFD')
    .replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!);
}

export function errorXml(fields: { code: string; message: string; requestId: string; resource?: string; argumentName?: string; details?: Readonly<Record<string, string>> }): string {
  let x = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${esc(fields.code)}</Code><Message>${esc(fields.message)}</Message>`;
  if (fields.argumentName) x += `<ArgumentName>${esc(fields.argumentName)}</ArgumentName>`;
  // S3's extra elements, e.g. StringToSign and CanonicalRequest on SignatureDoesNotMatch
  for (const [k, v] of Object.entries(fields.details ?? {})) if (/^[A-Za-z]+$/.test(k)) x += `<${k}>${esc(v)}</${k}>`;
  if (fields.resource) x += `<Resource>${esc(fields.resource)}</Resource>`;
  x += `<RequestId>${esc(fields.requestId)}</RequestId></Error>`;
  return x;
}

/** Code and Message of an upstream error body; `message` is '' when the element is empty or missing. */
export function readErrorXml(body: string): { code?: string; message: string } {
  const code = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  const message = /<Message>([^<]*)<\/Message>/.exec(body)?.[1] ?? '';
  return { code, message: message.trim() };
}

/** Puts `message` into an upstream error body whose Message is empty or absent, keeping everything else. */
export function fillMessage(body: string, message: string): string {
  const m = esc(message);
  // replacement functions: a `$` in the message must stay literal
  if (/<Message\s*\/>/.test(body)) return body.replace(/<Message\s*\/>/, () => `<Message>${m}</Message>`);
  if (/<Message>\s*<\/Message>/.test(body)) return body.replace(/<Message>\s*<\/Message>/, () => `<Message>${m}</Message>`);
  return body.replace(/(<Code>[^<]*<\/Code>)/, (code) => `${code}<Message>${m}</Message>`);
}

/** Sets the Code and Message of an upstream error body, keeping its other elements (RequestId, Resource, HostId). */
export function replaceCodeAndMessage(body: string, code: string, message: string): string {
  const withCode = body.replace(/<Code>[^<]*<\/Code>/, () => `<Code>${esc(code)}</Code>`);
  if (/<Message>[^<]*<\/Message>/.test(withCode)) return withCode.replace(/<Message>[^<]*<\/Message>/, () => `<Message>${esc(message)}</Message>`);
  return fillMessage(withCode, message);
}
