/**
 * The pure SigV4 layer (no I/O): parse → verify → (aws-chunked decode | plain-body check) → re-sign upstream.
 *
 *   const auth = parse({ method, rawUrl, rawHeaders, authority });
 *   if (auth.kind === 'anonymous') …;
 *   const v = verify(auth, (ak) => store.get(ak), new Date(), { region });
 *   const body = isStreaming(v.payloadMode) ? req.pipe(AwsChunkedDecoder.forRequest(v)) : req;
 *   const up = await signUpstream({ …, headers: isStreaming(v.payloadMode) ? decodedBodyHeaders(h, v.decodedContentLength!) : h,
 *                                  payloadHash: v.payloadMode === 'hex' ? v.payloadHash!.toLowerCase() : 'UNSIGNED-PAYLOAD' }, creds);
 */
export { parse, headerValues, parseCredential, type SigV4Input, type SigV4Request, type ParsedAuth, type HeaderValues, type CredentialScope } from './parse.js';
export {
  verify,
  canonicalRequest,
  checkClock,
  stringToSign,
  isStreaming,
  type VerifiedRequest,
  type VerifyOptions,
  type ChunkSigning,
  type CredentialLookup,
  type StoredCredentials,
} from './verify.js';
export { AwsChunkedDecoder, type AwsChunkedOptions, type ChunkedMode } from './aws-chunked.js';
export {
  PlainBodyVerifier,
  Crc64Nvme,
  crc32c,
  checksumOf,
  createChecksummer,
  isChecksumValue,
  isChecksumHeader,
  assertChecksum,
  CHECKSUM_HEADERS,
  DIGEST_BYTES,
  type ChecksumAlgorithm,
  type ChecksumHeader,
  type ClaimedChecksum,
  type Checksummer,
  type PlainBodyOptions,
} from './checksum.js';
export { signUpstream, stripAuthQuery, decodedBodyHeaders, type UpstreamRequest, type UpstreamCredentials, type SignedUpstream, type HeaderInput } from './sign-upstream.js';
export { SigningKeyCache, defaultSigningKeys, deriveSigningKey } from './signing-key.js';
export { SigV4Error } from './errors.js';
export { TailHolder } from './tail.js';
export * from './constants.js';
