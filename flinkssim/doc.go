// Package flinkssim is a local simulator of the Flinks Upload API and its
// fraud-analysis endpoint, for tests, trials and `flinkdrop sim`.
//
// It serves the token, upload and complete calls over mutual TLS and the
// fraud analysis over server-authenticated TLS, on 127.0.0.1, and enforces
// every rule of the Flinks upload guide and of SPEC §1 the way a strict real
// server would: client certificates from its own CA only, Basic credentials
// compared byte for byte, expiring Bearer tokens, one file per upload with a
// matching type and standard base64 content, per-file and per-session
// limits, complete once. Faults (503s, connection resets before or after the
// state change, latency) can be injected at a seeded rate.
//
// By design it shares no code with the uploader package: its request types
// and its parser are written from the guide, so a mistake in the client
// cannot pass because the simulator made the same one.
package flinkssim
