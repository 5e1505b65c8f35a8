/**
 * Checks at the HTTP level, before any route runs: the bearer token (scheme case-insensitive), the
 * body's charset, and requests Node's parser rejects, answered in OpenAI's error shape.
 */
import { STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { ApiError } from './errors.js';

/** The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive (RFC 9110). */
export function bearerToken(header: string | undefined): string {
  const m = /^bearer[ \t]+(.*)$/is.exec(header ?? '');
  return m ? m[1]!.trim() : '';
}

/** JSON bodies are read as UTF-8; a body declared in another charset would be misread, so it is a 415. */
export function checkCharset(contentType: string | undefined): void {
  const m = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(contentType ?? '');
  if (!m) return;
  const charset = (m[1] ?? '').toLowerCase();
  if (charset === 'utf-8' || charset === 'utf8') return;
  throw new ApiError(415, `Unsupported charset '${m[1]}' in content-type: request bodies must be UTF-8 JSON.`, 'invalid_request_error', null, 'unsupported_media_type');
}

/**
 * Node's HTTP parser rejects some requests (headers too large, malformed) before Fastify sees them;
 * answer those in OpenAI's shape, as Fastify's default handler does in its own.
 */
export function clientError(err: NodeJS.ErrnoException, socket: Duplex): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const [status, message] =
    err.code === 'HPE_HEADER_OVERFLOW' ? [431, 'Request header fields too large.']
    : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? [408, 'Request timeout.']
    : [400, `Malformed HTTP request (${err.code ?? 'parse error'}).`];
  const body = JSON.stringify(new ApiError(status, message, 'invalid_request_error', null, null).toBody());
  if (socket.writable) {
    socket.write(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/json; charset=utf-8\r\nConnection: close\r\n\r\n${body}`);
  }
  socket.destroy(err);
}
