/**
 * The protobuf messages of Envoy's ext_authz gRPC service (envoy.service.auth.v3), encoded and
 * decoded by hand on protobufjs's Writer/Reader: only the fields a Bowline proxy sends
 * (AttributeContext source/destination addresses and principals, the HTTP request) and reads
 * (status, ok_response headers to set/remove, denied_response status/headers/body). Unknown
 * fields are skipped, as protobuf requires.
 */
import protobuf from 'protobufjs/minimal.js';

/** What the proxy tells the authorizer about one request. */
export interface CheckAttributes {
  source?: { address: string; port?: number; principal?: string };
  destination?: { address: string; port?: number; principal?: string };
  /** Milliseconds since the epoch. */
  time: number;
  http: { id?: string; method: string; headers: Array<[string, string]>; path: string; host: string; scheme: string; size: number; protocol: string };
}

/** The authorizer's answer, decoded. */
export interface CheckResult {
  /** google.rpc.Status code: 0 allows. */
  code: number;
  message: string;
  /** ok_response: headers to set on (append: add to) the upstream request, and names to remove. */
  ok?: { headers: Array<{ key: string; value: string; append: boolean }>; remove: string[] };
  /** denied_response: the HTTP status (0: not given), headers and body for the client. */
  denied?: { status: number; headers: Array<{ key: string; value: string; append: boolean }>; body: string };
}

type Writer = protobuf.Writer;

function peer(w: Writer, field: number, p: NonNullable<CheckAttributes['source']>): void {
  w.uint32((field << 3) | 2).fork();
  // Peer.address (1) -> Address.socket_address (1) -> SocketAddress {address = 2, port_value = 4}
  w.uint32(10).fork().uint32(10).fork();
  if (p.address) w.uint32(18).string(p.address);
  if (p.port) w.uint32(32).uint32(p.port);
  w.ldelim().ldelim();
  if (p.principal) w.uint32(34).string(p.principal); // Peer.principal = 4
  w.ldelim();
}

/** Encodes a CheckRequest {attributes = 1}. */
export function encodeCheckRequest(a: CheckAttributes): Uint8Array {
  const w = protobuf.Writer.create();
  w.uint32(10).fork(); // attributes
  if (a.source) peer(w, 1, a.source);
  if (a.destination) peer(w, 2, a.destination);
  w.uint32(34).fork(); // request = 4
  const seconds = Math.floor(a.time / 1000);
  w.uint32(10).fork().uint32(8).int64(seconds).uint32(16).int32(Math.floor((a.time - seconds * 1000) * 1e6)).ldelim(); // time = 1
  w.uint32(18).fork(); // http = 2
  const h = a.http;
  if (h.id) w.uint32(10).string(h.id);
  w.uint32(18).string(h.method);
  for (const [k, v] of h.headers) w.uint32(26).fork().uint32(10).string(k).uint32(18).string(v).ldelim(); // map<string,string> headers = 3
  w.uint32(34).string(h.path).uint32(42).string(h.host).uint32(50).string(h.scheme);
  w.uint32(72).int64(h.size); // size = 9
  w.uint32(82).string(h.protocol); // protocol = 10
  w.ldelim().ldelim().ldelim();
  return w.finish();
}

/** Reads the fields of one embedded message, calling `on(field, wireType)`; `on` returns false to skip the value. */
function fields(r: protobuf.Reader, end: number, on: (field: number, r: protobuf.Reader) => boolean): void {
  while (r.pos < end) {
    const tag = r.uint32();
    if (!on(tag >>> 3, r)) r.skipType(tag & 7);
  }
}

function headerOption(r: protobuf.Reader, end: number): { key: string; value: string; append: boolean } {
  const out = { key: '', value: '', append: false };
  fields(r, end, (f) => {
    if (f === 1) {
      const e = r.uint32() + r.pos;
      fields(r, e, (g) => {
        if (g === 1) { out.key = r.string().toLowerCase(); return true; }
        if (g === 2) { out.value = r.string(); return true; }
        if (g === 3) { out.value = Buffer.from(r.bytes()).toString('latin1'); return true; }
        return false;
      });
      return true;
    }
    if (f === 2) { const e = r.uint32() + r.pos; fields(r, e, (g) => (g === 1 ? ((out.append = r.bool()), true) : false)); return true; }
    return false;
  });
  return out;
}

/** Decodes a CheckResponse; throws on a malformed message. */
export function decodeCheckResponse(buf: Uint8Array): CheckResult {
  const r = protobuf.Reader.create(buf);
  const out: CheckResult = { code: 0, message: '' };
  fields(r, buf.length, (f) => {
    const end = () => r.uint32() + r.pos;
    if (f === 1) { const e = end(); fields(r, e, (g) => (g === 1 ? ((out.code = r.int32()), true) : g === 2 ? ((out.message = r.string()), true) : false)); return true; }
    if (f === 2) {
      const d: NonNullable<CheckResult['denied']> = { status: 0, headers: [], body: '' };
      const e = end();
      fields(r, e, (g) => {
        if (g === 1) { const se = r.uint32() + r.pos; fields(r, se, (k) => (k === 1 ? ((d.status = r.int32()), true) : false)); return true; }
        if (g === 2) { const he = r.uint32() + r.pos; d.headers.push(headerOption(r, he)); return true; }
        if (g === 3) { d.body = r.string(); return true; }
        return false;
      });
      out.denied = d;
      return true;
    }
    if (f === 3) {
      const ok: NonNullable<CheckResult['ok']> = { headers: [], remove: [] };
      const e = end();
      fields(r, e, (g) => {
        if (g === 2) { const he = r.uint32() + r.pos; ok.headers.push(headerOption(r, he)); return true; }
        if (g === 5) { ok.remove.push(r.string().toLowerCase()); return true; }
        return false;
      });
      out.ok = ok;
      return true;
    }
    return false;
  });
  return out;
}
