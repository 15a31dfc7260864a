// Package uploader is the Flinks Upload API client: mutual TLS with a
// reloadable client certificate, a cached OAuth2 token, streamed uploads,
// complete, the fraud analysis, and errors classified by what to do next.
package uploader
