/**
 * THE error table: every error the gateway answers with, as S3 answers it.
 * Messages follow AWS S3 (sse-c-reference.md Part A §3, AWS column) so that every SDK parses them;
 * `upstreamMessages` fills RGW's empty <Message/> bodies from the same source.
 * The README's error table is generated from this file (`ssec-gateway docs errors`).
 */
export const SSEC_PREFIX = 'Requests specifying Server Side Encryption with Customer provided keys must';

export const ERRORS = {
  // --- SSE-C transport ---
  PlaintextSseC: { status: 400, code: 'InvalidRequest', message: `${SSEC_PREFIX} be made over a secure connection.`, when: 'any SSE-C or copy-source SSE-C header on the plaintext listener (the key is then treated as exposed)' },
  PlaintextClosed: { status: 403, code: 'AccessDenied', message: 'This endpoint accepts requests over HTTPS only.', when: 'any request on the plaintext listener when `plaintext.mode` is `refuse`' },
  // --- SSE-C triplet validation, in the order it is checked (§7 rule 3) ---
  SseCMissingAlgorithm: { status: 400, code: 'InvalidArgument', message: `${SSEC_PREFIX} provide a valid encryption algorithm.`, when: 'key or key-MD5 sent without the algorithm' },
  SseCInvalidAlgorithm: { status: 400, code: 'InvalidEncryptionAlgorithmError', message: 'The Encryption request you specified is not valid. Supported value: AES256.', when: 'algorithm other than AES256' },
  SseCMissingKey: { status: 400, code: 'InvalidArgument', message: `${SSEC_PREFIX} provide an appropriate secret key.`, when: 'algorithm sent without a key' },
  SseCMissingKeyMd5: { status: 400, code: 'InvalidArgument', message: `${SSEC_PREFIX} provide the client calculated MD5 of the secret key.`, when: 'algorithm and key sent without the key MD5' },
  SseCInvalidKey: { status: 400, code: 'InvalidArgument', message: 'The secret key was invalid for the specified algorithm.', when: 'key is not strict base64 of exactly 32 bytes' },
  SseCKeyMd5Mismatch: { status: 400, code: 'InvalidArgument', message: 'The calculated MD5 hash of the key did not match the hash that was provided.', when: 'key-MD5 is not base64(MD5(raw key))' },
  SseCIncompatible: { status: 400, code: 'InvalidArgument', message: 'Server Side Encryption with Customer provided key is incompatible with the encryption method specified', when: 'SSE-C together with x-amz-server-side-encryption or a KMS key id on a write' },
  SseCInQuery: { status: 400, code: 'InvalidArgument', message: 'Server Side Encryption with Customer provided keys must be sent as request headers, not in the query string (a key in a URL ends up in logs).', when: 'x-amz-server-side-encryption-customer-* (or copy-source) parameters in the query string, e.g. a presigned URL that hoisted them' },
  SseHeaderOnRead: { status: 400, code: 'InvalidArgument', message: 'x-amz-server-side-encryption header is not supported for this operation.', when: 'x-amz-server-side-encryption (or its KMS headers) on GET/HEAD' },
  // --- object state: upstream answers about the object's key, in S3's words (sse-c-reference.md §3 rows 8, 9, 17, 18) ---
  ObjectEncryptedNoKey: { status: 400, code: 'InvalidRequest', message: 'The object was stored using a form of Server Side Encryption. The correct parameters must be provided to retrieve the object.', when: 'GET/HEAD (or GetObjectAttributes) of an SSE-C object without the SSE-C headers (RGW 16 says InvalidArgument "…must provide a valid encryption algorithm.")' },
  SseCKeyMismatch: { status: 400, code: 'InvalidArgument', message: 'The SSE-C key sent does not match the key the object was written with.', when: 'GET/HEAD of an SSE-C object with another well-formed key (RGW 16: 400 "The calculated MD5 hash of the key did not match…"; S3 answers 403 AccessDenied, and the upstream\'s status is kept)' },
  UploadNeedsKey: { status: 400, code: 'InvalidRequest', message: 'The multipart upload initiate requested encryption. Subsequent part requests must include the appropriate encryption parameters.', when: 'UploadPart/UploadPartCopy of an SSE-C multipart upload without the SSE-C headers' },
  UploadKeyMismatch: { status: 400, code: 'InvalidArgument', message: 'The SSE-C key sent does not match the key the multipart upload was initiated with.', when: 'UploadPart/UploadPartCopy of an SSE-C multipart upload with another well-formed key (the upstream\'s status is kept)' },
  // --- gateway-side encryption (encryption.mode gateway, docs/format.md) ---
  GatewayKeyMismatch: { status: 403, code: 'AccessDenied', message: 'Access Denied', when: '`encryption.mode gateway`: the SSE-C key sent does not open the object (another key, or an object moved to this name behind the gateway), as S3 answers a wrong key' },
  EncryptionNotApplicable: { status: 400, code: 'InvalidRequest', message: 'The encryption parameters are not applicable to this object.', when: '`encryption.mode gateway`: SSE-C headers on a GET/HEAD (or copy source) of an object the gateway did not encrypt' },
  GatewayPartLayout: { status: 400, code: 'InvalidPart', message: 'Gateway encryption needs every part but the last to hold the same number of bytes, a multiple of 65536 (64 KiB), and a last part that is not empty. Complete the upload with such parts, or abort it.', when: '`encryption.mode gateway`: CompleteMultipartUpload of parts that break the layout of docs/format.md (the upload stays open)' },
  GatewayUploadNotEncrypted: { status: 400, code: 'InvalidRequest', message: 'This multipart upload was not initiated with SSE-C through the gateway: its parts cannot be encrypted. Initiate the upload with the SSE-C headers.', when: '`encryption.mode gateway`: UploadPart with SSE-C headers to an upload initiated without them (or an upload id from ListMultipartUploads)' },
  GatewayContentMd5: { status: 400, code: 'BadDigest', message: 'The Content-MD5 you specified did not match what we received.', when: '`encryption.mode gateway`: the plaintext body does not match its Content-MD5 (checked by the gateway, the store sees ciphertext; nothing is stored)' },
  GatewayInvalidContentMd5: { status: 400, code: 'InvalidDigest', message: 'The Content-MD5 you specified is not valid.', when: '`encryption.mode gateway`: a Content-MD5 that is not the base64 of 16 bytes' },
  GatewayLengthRequired: { status: 411, code: 'MissingContentLength', message: 'You must provide the Content-Length HTTP header.', when: '`encryption.mode gateway`: an upload without a Content-Length (the part header states the size)' },
  GatewayInvalidRange: { status: 416, code: 'InvalidRange', message: 'The requested range is not satisfiable', when: '`encryption.mode gateway`: a Range that starts past the end of the object' },
  GatewayObjectChanged: { status: 503, code: 'SlowDown', message: 'The object changed while it was being read. Please try again.', when: '`encryption.mode gateway`: a ranged read takes several upstream requests and the object was overwritten between them' },
  GatewayNotYet: { status: 501, code: 'NotImplemented', message: 'This operation with SSE-C is not yet supported by encryption.mode gateway.', when: '`encryption.mode gateway`: an SSE-C operation the gateway does not encrypt yet (the message names it); the key never reaches the store' },
  ObjectNotAuthentic: { status: 500, code: 'InternalError', message: 'The stored object does not authenticate (altered, truncated or reordered in the store): none of it is returned.', when: '`encryption.mode gateway`: a stored ciphertext fails its check before the answer started (after it started, the connection is reset)' },
  // --- access ---
  AnonymousDenied: { status: 403, code: 'AccessDenied', message: 'Access Denied: this gateway requires requests signed with AWS Signature Version 4.', when: 'an unsigned request in auth mode `sigv4`' },
  ScopeDenied: { status: 403, code: 'AccessDenied', message: 'Access Denied', when: 'a bucket or key outside the client\'s `allow` list (auth mode `sigv4`)' },
  PseudoHeaderSigned: { status: 400, code: 'InvalidRequest', message: 'The request signature covers the HTTP/2 :authority pseudo-header, which the storage service cannot verify when the gateway passes signatures through. Use HTTP/1.1 for this client, or run the gateway in auth mode sigv4.', when: 'auth mode `passthrough` and a signature whose SignedHeaders include `:authority` (the AWS SDK for JavaScript over HTTP/2)' },
  UnverifiableStreaming: { status: 400, code: 'InvalidRequest', message: 'Signed aws-chunked uploads cannot be accepted in auth mode none (the gateway holds no client secret to check the chunk signatures); send UNSIGNED-PAYLOAD or STREAMING-UNSIGNED-PAYLOAD-TRAILER over HTTPS.', when: 'a STREAMING-AWS4-HMAC-SHA256-PAYLOAD body in auth mode `none`' },
  // --- key policy ---
  KeyPolicyDenied: { status: 403, code: 'AccessDenied', message: 'Access Denied', when: '`enforce` injection rule: a write with a different SSE-C key, or asking for SSE-S3/KMS (the message says which)' },
  // --- copies done by the gateway (upstream profile rgw16) ---
  CopyPreconditionFailed: { status: 412, code: 'PreconditionFailed', message: 'At least one of the pre-conditions you specified did not hold', when: 'an `x-amz-copy-source-if-*` condition failed' },
  InvalidCopySource: { status: 400, code: 'InvalidArgument', message: 'Copy Source must mention the source bucket and key: sourcebucket/sourcekey', when: 'an `x-amz-copy-source` that names no bucket and key' },
  IllegalSelfCopy: { status: 400, code: 'InvalidRequest', message: "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.", when: 'CopyObject onto itself with nothing changed' },
  InvalidCopyRange: { status: 400, code: 'InvalidArgument', message: 'The x-amz-copy-source-range value must be of the form bytes=first-last where first and last are the zero-based offsets of the first and last bytes to copy', when: 'a malformed `x-amz-copy-source-range`' },
  // --- SSE-C copies RGW 16 gets wrong, in auth mode passthrough (no upstream credential to do them here: passthrough-gaps.ts) ---
  PassthroughCopyToSseC: { status: 501, code: 'NotImplemented', message: 'The storage service cannot copy an object to a destination encrypted with a customer-provided key (Ceph RGW before release 20 would store the copy unencrypted). Run the gateway in auth mode sigv4 to have it perform such copies.', when: 'auth mode `passthrough`, upstream profile `rgw16`: CopyObject with an SSE-C destination (RGW 16 answers 200 and stores plaintext)' },
  PassthroughCopyFromSseC: { status: 501, code: 'NotImplemented', message: 'The storage service cannot copy an object encrypted with a customer-provided key (Ceph RGW before release 20 does not implement it). Run the gateway in auth mode sigv4 to have it perform such copies.', when: 'auth mode `passthrough`, upstream profile `rgw16`: CopyObject with a copy-source SSE-C triplet' },
  PassthroughPartCopyKeys: { status: 501, code: 'NotImplemented', message: 'The storage service cannot copy a part from an object encrypted with a customer-provided key into an upload with another key or none (Ceph RGW before release 20 decrypts the source with the upload\'s key). Use the same key for both, or run the gateway in auth mode sigv4 to have it perform such copies.', when: 'auth mode `passthrough`, upstream profile `rgw16`: UploadPartCopy whose copy-source key differs from the destination key, or has none' },
  // --- GetObjectAttributes answered by the gateway (upstream profile rgw16: RGW 16 serves it as a GetObject) ---
  AttributesMissing: { status: 400, code: 'InvalidRequest', message: 'The x-amz-object-attributes header specifying the attributes to be retrieved is either missing or empty', when: 'GetObjectAttributes without `x-amz-object-attributes`, or with an empty one' },
  AttributeNameInvalid: { status: 400, code: 'InvalidArgument', message: 'Invalid attribute name specified.', when: 'GetObjectAttributes naming an attribute other than ETag, Checksum, ObjectParts, StorageClass, ObjectSize (ArgumentValue names it)' },
  PassthroughObjectAttributes: { status: 501, code: 'NotImplemented', message: 'The storage service cannot answer GetObjectAttributes (Ceph RGW before release 20 answers it as a GetObject). Run the gateway in auth mode sigv4 to have it answer GetObjectAttributes itself.', when: 'auth mode `passthrough`, upstream profile `rgw16`: GetObjectAttributes' },
  // --- key fingerprints ---
  KeyExposedDenied: { status: 403, code: 'AccessDenied', message: 'Access Denied: this SSE-C key was exposed over plaintext HTTP and must be rotated.', when: 'a key known to be exposed (seen on the plaintext listener, on any replica) and `keys.onExposed: deny` (the message names the key id and the date)' },
  // --- POST Object (browser form uploads; src/s3/post-form.ts, src/sigv4/post-policy.ts). S3 documents few of these texts: they are S3's answers as recorded by LocalStack's AWS-validated tests and users' captures ---
  PostMalformed: { status: 400, code: 'MalformedPOSTRequest', message: 'The body of your POST request is not well-formed multipart/form-data.', when: 'a POST Object body that is not multipart/form-data as its Content-Type announces (no boundary, no delimiter, a part without a name, cut short)' },
  PostPreDataTooLarge: { status: 400, code: 'MaxPostPreDataLengthExceeded', message: 'Your POST request fields preceeding the upload file was too large.', when: 'more than 20 KB (20,480 bytes) of form before the `file` part (S3\'s limit and wording, sic)' },
  PostNoFile: { status: 400, code: 'InvalidArgument', message: 'POST requires exactly one file upload per request.', when: 'a form without a `file` part' },
  PostFieldMissing: { status: 400, code: 'InvalidArgument', message: "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.", when: 'a form without `key`, or (auth mode `sigv4`) without one of X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, Policy before the file (the message names it)' },
  PostFieldInvalid: { status: 400, code: 'InvalidArgument', message: 'X-Amz-Date must be formated via ISO8601 Long format', when: 'a malformed X-Amz-Date or X-Amz-Credential field (wrong scope, service or region: the message names the fault)' },
  PostPolicyInvalid: { status: 400, code: 'InvalidPolicyDocument', message: 'Invalid Policy: Invalid JSON.', when: 'a POST policy that is not base64 of a JSON document of `expiration` and `conditions` in S3\'s condition language (the message names the fault)' },
  PostPolicyExpired: { status: 403, code: 'AccessDenied', message: 'Invalid according to Policy: Policy expired.', when: 'a POST form whose policy\'s expiration has passed' },
  PostPolicyConditionFailed: { status: 403, code: 'AccessDenied', message: 'Invalid according to Policy: Policy Condition failed: ["eq", "$key", "…"]', when: 'a POST policy condition that the form does not meet (the message prints the condition as S3 does)' },
  PostExtraFields: { status: 403, code: 'AccessDenied', message: 'Invalid according to Policy: Extra input fields: …', when: 'a form field that no POST policy condition covers (all but x-amz-signature, policy, file and x-ignore-*)' },
  PostEntityTooLarge: { status: 400, code: 'EntityTooLarge', message: 'Your proposed upload exceeds the maximum allowed size', when: 'a POST file larger than the policy\'s content-length-range (the upload is aborted upstream, no object is created)' },
  PostEntityTooSmall: { status: 400, code: 'EntityTooSmall', message: 'Your proposed upload is smaller than the minimum allowed size', when: 'a POST file smaller than the policy\'s content-length-range' },
  // --- request shape ---
  InvalidBucketName: { status: 400, code: 'InvalidBucketName', message: 'The specified bucket is not valid.', when: 'a bucket name S3 would not accept' },
  InvalidURI: { status: 400, code: 'InvalidURI', message: "Couldn't parse the specified URI.", when: 'a path that is not valid percent-encoding' },
  MethodNotAllowed: { status: 405, code: 'MethodNotAllowed', message: 'The specified method is not allowed against this resource.', when: 'a method S3 has no operation for' },
  // --- SigV4 authentication (src/sigv4; messages as S3 answers them, see src/sigv4/errors.ts for the sources) ---
  AuthHeaderMalformed: { status: 400, code: 'AuthorizationHeaderMalformed', message: 'The authorization header is malformed; the authorization header requires three components: Credential, SignedHeaders, and Signature.', when: 'an `AWS4-HMAC-SHA256` Authorization header without its three components, or whose Credential scope is malformed, of another service/region, or dated another day than x-amz-date (the message names the fault)' },
  AuthQueryMalformed: { status: 400, code: 'AuthorizationQueryParametersError', message: 'Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.', when: 'a presigned URL missing an X-Amz-* parameter, or with a malformed one (the message names the fault)' },
  AuthMechanismConflict: { status: 400, code: 'InvalidArgument', message: 'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified', when: 'an Authorization header together with presigned (v4 or v2) query parameters' },
  AuthTypeUnsupported: { status: 400, code: 'InvalidArgument', message: 'Unsupported Authorization Type', when: 'an Authorization header of another scheme than AWS4-HMAC-SHA256 or AWS' },
  SigV2NotSupported: { status: 400, code: 'InvalidRequest', message: 'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.', when: 'a Signature Version 2 request (`AWS ak:sig` header, or AWSAccessKeyId/Signature query): SigV4 only, as in S3 regions opened after 2014' },
  AuthDateMissing: { status: 403, code: 'AccessDenied', message: 'AWS authentication requires a valid Date or x-amz-date header', when: 'a header-signed request without a parseable x-amz-date (or Date)' },
  ContentSha256Missing: { status: 400, code: 'InvalidRequest', message: 'Missing required header for this request: x-amz-content-sha256', when: 'a header-signed request without x-amz-content-sha256' },
  ContentSha256Invalid: { status: 400, code: 'InvalidArgument', message: 'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD, STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD-TRAILER or a valid sha256 value.', when: 'x-amz-content-sha256 is none of the payload modes nor 64 hex digits' },
  ContentSha256Mismatch: { status: 400, code: 'XAmzContentSHA256Mismatch', message: "The provided 'x-amz-content-sha256' header does not match what was computed.", when: 'a body whose SHA-256 differs from its hex x-amz-content-sha256 (only when the gateway checks it itself)' },
  PayloadModeNotImplemented: { status: 501, code: 'NotImplemented', message: 'A header you provided implies functionality that is not implemented.', when: 'x-amz-content-sha256 of an event stream or of SigV4a (ECDSA) chunk signing' },
  HeadersNotSigned: { status: 403, code: 'AccessDenied', message: 'There were headers present in the request which were not signed', when: 'host or an x-amz-* header of the request is not in SignedHeaders (a presigned URL cannot be extended with unsigned x-amz-* headers)' },
  InvalidAccessKeyId: { status: 403, code: 'InvalidAccessKeyId', message: 'The AWS Access Key Id you provided does not exist in our records.', when: 'the access key of the signature is not in the credential store' },
  SignatureDoesNotMatch: { status: 403, code: 'SignatureDoesNotMatch', message: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.', when: 'the request, chunk or trailer signature differs from the one computed with the stored secret' },
  RequestTimeTooSkewed: { status: 403, code: 'RequestTimeTooSkewed', message: 'The difference between the request time and the current time is too large.', when: 'a header-signed request dated more than 15 minutes from the gateway clock' },
  PresignExpired: { status: 403, code: 'AccessDenied', message: 'Request has expired', when: 'a presigned URL used after X-Amz-Date + X-Amz-Expires' },
  PresignNotYetValid: { status: 403, code: 'AccessDenied', message: 'Request is not valid yet', when: 'a presigned URL dated more than 15 minutes in the future' },
  // --- request bodies: aws-chunked framing, trailers, checksums ---
  DecodedLengthMissing: { status: 411, code: 'MissingContentLength', message: 'You must provide the Content-Length HTTP header.', when: 'a STREAMING-* (aws-chunked) request without a valid x-amz-decoded-content-length' },
  BodyIncomplete: { status: 400, code: 'IncompleteBody', message: 'The request body terminated unexpectedly', when: 'an aws-chunked body that is truncated or not well framed' },
  DecodedLengthMismatch: { status: 400, code: 'IncompleteBody', message: 'You did not provide the number of bytes specified by the Content-Length HTTP header.', when: 'the aws-chunked data is shorter or longer than x-amz-decoded-content-length' },
  ChunkTooSmall: { status: 400, code: 'InvalidChunkSizeError', message: 'Only the last chunk is allowed to have a size less than 8192 bytes', when: 'an aws-chunked data chunk other than the last one is smaller than 8 KiB' },
  ChunkTooLarge: { status: 400, code: 'InvalidChunkSizeError', message: 'The chunk size exceeds the maximum this endpoint accepts.', when: 'a signed aws-chunked chunk larger than `maxChunkSize` (16 MiB by default; the gateway buffers one signed chunk until its signature holds). Not an S3 limit' },
  TrailerNotSupported: { status: 400, code: 'InvalidRequest', message: 'The value specified in the x-amz-trailer header is not supported', when: 'x-amz-trailer names something other than one x-amz-checksum-{crc32,crc32c,crc64nvme,sha1,sha256}' },
  TrailerMalformed: { status: 400, code: 'MalformedTrailerError', message: 'The request contained trailing data that was not well-formed or did not conform to our published schema.', when: 'the trailer section lacks the announced checksum or trailer signature, or carries other lines' },
  ChecksumValueInvalid: { status: 400, code: 'InvalidRequest', message: 'Value for x-amz-checksum-crc32 trailing header is invalid.', when: 'a checksum trailer (or header) that is not the base64 of a digest of the right size (the message names it)' },
  ChecksumMismatch: { status: 400, code: 'BadDigest', message: 'The CRC32 you specified did not match the calculated checksum.', when: 'the body does not match its x-amz-checksum-* trailer or header (the message names the algorithm)' },
  // --- upstream ---
  UpstreamUnreachable: { status: 503, code: 'ServiceUnavailable', message: 'The gateway could not reach the storage service. Please try again.', when: 'connection to the upstream refused, reset or failed before a response' },
  UpstreamTimeout: { status: 504, code: 'GatewayTimeout', message: 'The storage service did not answer in time. Please try again.', when: 'no upstream response within `upstream.timeoutMs`' },
  Overloaded: { status: 503, code: 'SlowDown', message: 'Please reduce your request rate.', when: 'more than `limits.maxInFlight` requests in flight in this gateway process (load shedding)' },
  HeaderSectionTooLarge: { status: 400, code: 'RequestHeaderSectionTooLarge', message: 'Your request header section exceeds the maximum allowed size.', when: 'more than `limits.maxHeaderCount` header fields' },
  ClientTimeout: { status: 400, code: 'RequestTimeout', message: 'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.', when: 'the client stopped sending the body (for `limits.bodyTimeoutMs`, or before its announced end)' },
  Internal: { status: 500, code: 'InternalError', message: 'We encountered an internal error. Please try again.', when: 'a bug in the gateway; the log line carries the reason' },
} as const satisfies Record<string, { status: number; code: string; message: string; when: string }>;

export type ErrorName = keyof typeof ERRORS;

/**
 * Standard S3 messages by Code, used to fill upstream error bodies whose <Message/> is empty
 * (RGW 16 leaves it empty for InvalidRequest, NotImplemented, NoSuchKey, SignatureDoesNotMatch, …;
 * aws-cli 1.45 then crashes with "argument of type 'NoneType' is not iterable").
 */
export const UPSTREAM_MESSAGES: Record<string, string> = {
  AccessDenied: 'Access Denied',
  BadDigest: 'The Content-MD5 you specified did not match what we received.',
  BucketAlreadyExists: 'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Please select a different name and try again.',
  BucketAlreadyOwnedByYou: 'Your previous request to create the named bucket succeeded and you already own it.',
  BucketNotEmpty: 'The bucket you tried to delete is not empty',
  EntityTooLarge: 'Your proposed upload exceeds the maximum allowed object size.',
  EntityTooSmall: 'Your proposed upload is smaller than the minimum allowed object size.',
  IncompleteBody: 'You did not provide the number of bytes specified by the Content-Length HTTP header.',
  InternalError: 'We encountered an internal error. Please try again.',
  InvalidAccessKeyId: 'The AWS Access Key Id you provided does not exist in our records.',
  InvalidArgument: 'Invalid Argument',
  InvalidBucketName: 'The specified bucket is not valid.',
  InvalidDigest: 'The Content-MD5 you specified is not valid.',
  InvalidEncryptionAlgorithmError: 'The Encryption request you specified is not valid. Supported value: AES256.',
  InvalidPart: 'One or more of the specified parts could not be found. The part might not have been uploaded, or the specified entity tag might not have matched the part\'s entity tag.',
  InvalidPartOrder: 'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
  InvalidRange: 'The requested range is not satisfiable',
  InvalidRequest: 'Invalid Request',
  InvalidStorageClass: 'The storage class you specified is not valid.',
  KeyTooLongError: 'Your key is too long.',
  MalformedXML: 'The XML you provided was not well-formed or did not validate against our published schema.',
  MethodNotAllowed: 'The specified method is not allowed against this resource.',
  MissingContentLength: 'You must provide the Content-Length HTTP header.',
  NoSuchBucket: 'The specified bucket does not exist',
  NoSuchKey: 'The specified key does not exist.',
  NoSuchUpload: 'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
  NoSuchVersion: 'The specified version does not exist.',
  NotImplemented: 'A header you provided implies functionality that is not implemented.',
  PreconditionFailed: 'At least one of the pre-conditions you specified did not hold',
  QuotaExceeded: 'Quota exceeded.',
  RequestTimeTooSkewed: 'The difference between the request time and the current time is too large.',
  RequestTimeout: 'Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed.',
  ServiceUnavailable: 'Please reduce your request rate.',
  SignatureDoesNotMatch: 'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  SlowDown: 'Please reduce your request rate.',
  TooManyBuckets: 'You have attempted to create more buckets than allowed.',
  XAmzContentSHA256Mismatch: "The provided 'x-amz-content-sha256' header does not match what was computed.",
};
