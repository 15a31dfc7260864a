// Package uploader is the Flinks Upload API client: mutual TLS with a
// reloadable client certificate, a cached OAuth2 token, streamed uploads,
// complete, the fraud analysis, and errors classified by what to do next.
//
// Every API error is an *Error whose Kind tells the caller what to do:
//
//	Credentials  token 400/401/403, any 403, a 401 that survives one token
//	             refresh, the fraud key refused, a TLS handshake refusal:
//	             pause everything, retry with capped backoff.
//	Transient    network errors, timeouts, 408, 429, 5xx (RetryAfter set
//	             from Retry-After): retry with backoff.
//	Rejected     other 4xx: the server refused this file (or aggregation);
//	             Message holds its reason.
//	Protocol     a reply not as documented, over the size bound, or with
//	             another AggregationId.
//	Local        the file could not be read, or changed while it was sent.
//
// A cancelled context is returned as the context's own error, not an
// *Error.
//
// Network timeouts run on real time like the transport's own; token expiry,
// certificate validity and certificate reload checks run on the injected
// clock. Requests use HTTP/1.1 with keep-alive.
package uploader
