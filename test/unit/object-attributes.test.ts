// GetObjectAttributes answered from a HEAD (src/s3/object-attributes.ts): the attribute list as AWS
// parses it, and the GetObjectAttributesResponse body (botocore's s3 model: member order, PartsCount).
import t from 'tap';
import { attributesXml, parseAttributeList, partPaging, partsCountOf, type ObjectAttribute } from '../../src/s3/object-attributes.js';

const ALL = new Set<ObjectAttribute>(['ETag', 'Checksum', 'ObjectParts', 'StorageClass', 'ObjectSize']);
const PAGE = { maxParts: 1000, marker: 0 };
const HEAD = `<?xml version="1.0" encoding="UTF-8"?>\n<GetObjectAttributesResponse xmlns="http://s3.amazonaws.com/doc/2006-03-01/">`;
const TAIL = '</GetObjectAttributesResponse>';

t.test('x-amz-object-attributes: comma lists, repeated headers, empty items ignored; missing / unknown', async (t) => {
  t.same(parseAttributeList('ETag,ObjectSize'), { want: new Set(['ETag', 'ObjectSize']) });
  t.same(parseAttributeList(' ETag , ETag ,StorageClass'), { want: new Set(['ETag', 'StorageClass']) }, 'spaces trimmed, duplicates once');
  t.same(parseAttributeList(['Checksum', 'ObjectParts,']), { want: new Set(['Checksum', 'ObjectParts']) }, 'repeated header; trailing comma');
  t.same(parseAttributeList(undefined), { missing: true }, 'missing');
  t.same(parseAttributeList(''), { missing: true }, 'empty');
  t.same(parseAttributeList(' , '), { missing: true }, 'only separators');
  t.same(parseAttributeList('ETag,etag'), { invalid: 'etag' }, 'names are case-sensitive (the model enum)');
  t.same(parseAttributeList('ObjectSize,Size'), { invalid: 'Size' }, 'the first unknown name is reported');
});

t.test('paging headers: AWS ignores values it cannot use', async (t) => {
  t.same(partPaging(undefined, undefined), { maxParts: 1000, marker: 0 });
  t.same(partPaging('5', '2'), { maxParts: 5, marker: 2 });
  t.same(partPaging('abc', '-1'), { maxParts: 1000, marker: 0 });
  t.same(partPaging('1001', '1.5'), { maxParts: 1000, marker: 0 });
});

t.test('part count from the ETag', async (t) => {
  t.equal(partsCountOf('d41d8cd98f00b204e9800998ecf8427e'), undefined, 'single-part');
  t.equal(partsCountOf('71046e2ca1918d077bd783b79860a531-3'), 3, 'multipart -3');
  t.equal(partsCountOf('71046e2ca1918d077bd783b79860a531-10000'), 10000);
});

t.test('single-part object: ETag unquoted, STANDARD by default, no ObjectParts, no Checksum without headers', async (t) => {
  const xml = attributesXml({ etag: '"5d41402abc4b2a76b9719d911017c592"', 'content-length': '5' }, ALL, PAGE);
  t.equal(xml, `${HEAD}<ETag>5d41402abc4b2a76b9719d911017c592</ETag><StorageClass>STANDARD</StorageClass><ObjectSize>5</ObjectSize>${TAIL}`);
});

t.test('only what was asked, in the model order whatever the request order', async (t) => {
  const head = { etag: '"abc"', 'content-length': '7', 'x-amz-storage-class': 'STANDARD_IA' };
  t.equal(attributesXml(head, new Set<ObjectAttribute>(['ObjectSize', 'StorageClass']), PAGE), `${HEAD}<StorageClass>STANDARD_IA</StorageClass><ObjectSize>7</ObjectSize>${TAIL}`);
  t.equal(attributesXml(head, new Set<ObjectAttribute>(['ETag']), PAGE), `${HEAD}<ETag>abc</ETag>${TAIL}`);
  t.equal(attributesXml(head, new Set<ObjectAttribute>(['ObjectParts']), PAGE), `${HEAD}${TAIL}`, 'ObjectParts of a single-part object: omitted');
});

t.test('multipart object: ObjectParts with PartsCount (TotalPartsCount) and the page asked for', async (t) => {
  const xml = attributesXml({ etag: '"0123456789abcdef0123456789abcdef-3"', 'content-length': '10486760' }, new Set<ObjectAttribute>(['ObjectParts', 'ObjectSize']), { maxParts: 5, marker: 1 });
  t.equal(xml, `${HEAD}<ObjectParts><PartNumberMarker>1</PartNumberMarker><MaxParts>5</MaxParts><IsTruncated>false</IsTruncated><PartsCount>3</PartsCount></ObjectParts><ObjectSize>10486760</ObjectSize>${TAIL}`);
});

t.test('Checksum from x-amz-checksum-* headers (model member names and order), type included', async (t) => {
  const head = { etag: '"e"', 'x-amz-checksum-sha256': 'n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=', 'x-amz-checksum-crc32': 'DUoRhQ==', 'x-amz-checksum-type': 'FULL_OBJECT' };
  t.equal(attributesXml(head, new Set<ObjectAttribute>(['Checksum']), PAGE),
    `${HEAD}<Checksum><ChecksumCRC32>DUoRhQ==</ChecksumCRC32><ChecksumSHA256>n4bQgYhMfWWaL+qgxVrQFaO/TxsrC4Is0V1sFbDwCgg=</ChecksumSHA256><ChecksumType>FULL_OBJECT</ChecksumType></Checksum>${TAIL}`);
  t.equal(attributesXml(head, new Set<ObjectAttribute>(['ETag']), PAGE), `${HEAD}<ETag>e</ETag>${TAIL}`, 'not asked: not returned');
});

t.test('values are XML-escaped', async (t) => {
  t.equal(attributesXml({ 'x-amz-storage-class': 'A&B<' }, new Set<ObjectAttribute>(['StorageClass']), PAGE), `${HEAD}<StorageClass>A&amp;B&lt;</StorageClass>${TAIL}`);
});
