package uploader

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/flinkdrop/flinkdrop/internal/secret"
)

// defaultTokenLifetime is assumed when a token reply has no expires_in (the
// guide documents 300 s).
const defaultTokenLifetime = 300 * time.Second

// token is an access token and when to stop using it.
type token struct {
	value     secret.Value
	expiry    time.Time
	refreshAt time.Time
}

// tokenCache holds the current token and the one fetch in flight.
type tokenCache struct {
	mu     sync.Mutex
	tok    token
	flight *tokenFlight
}

// tokenFlight is one token request that every caller who needs a token
// waits for.
type tokenFlight struct {
	done chan struct{}
	tok  token
	err  error
}

// Token makes sure a valid token is cached, fetching one if needed.
func (c *Client) Token(ctx context.Context) error {
	_, err := c.token(ctx)
	return err
}

// token returns a token valid now. One fetch runs at a time whatever the
// number of callers; every caller waits for it while honouring its own ctx.
// A token still valid but due for refresh is returned if the refresh fails.
func (c *Client) token(ctx context.Context) (secret.Value, error) {
	tc := &c.tokens
	tc.mu.Lock()
	now := c.clk.Now()
	cur := tc.tok
	if !cur.value.IsZero() && now.Before(cur.refreshAt) {
		tc.mu.Unlock()
		return cur.value, nil
	}
	f := tc.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		tc.flight = f
		go c.fetchToken(f)
	}
	tc.mu.Unlock()

	select {
	case <-f.done:
	case <-ctx.Done():
		return secret.Value{}, fmt.Errorf("token: %w", ctx.Err())
	}
	if f.err != nil {
		if !cur.value.IsZero() && c.clk.Now().Before(cur.expiry) {
			return cur.value, nil
		}
		return secret.Value{}, f.err
	}
	return f.tok.value, nil
}

// fetchToken runs one token request for f on the client's own context, so
// a caller giving up does not fail the others waiting.
func (c *Client) fetchToken(f *tokenFlight) {
	tok, err := c.requestToken(c.ctx)
	c.tokens.mu.Lock()
	if err == nil {
		c.tokens.tok = tok
	}
	c.tokens.flight = nil
	f.tok, f.err = tok, err
	c.tokens.mu.Unlock()
	close(f.done)
}

// dropToken forgets tok if it is still the cached one, after the server
// refused it.
func (c *Client) dropToken(tok secret.Value) {
	c.tokens.mu.Lock()
	defer c.tokens.mu.Unlock()
	if c.tokens.tok.value == tok {
		c.tokens.tok = token{}
	}
}

// requestToken asks the token endpoint for a new token.
func (c *Client) requestToken(ctx context.Context) (token, error) {
	sent := c.clk.Now()
	body := "grant_type=client_credentials&scope=" + url.QueryEscape(c.opts.Scope)
	req, err := http.NewRequest(http.MethodPost, c.uploadURL+"/token", strings.NewReader(body))
	if err != nil {
		return token{}, &Error{Kind: Credentials, Op: "token", Err: err}
	}
	// Built by hand: base64(id:secret), with neither part URL-escaped.
	basic := base64.StdEncoding.EncodeToString([]byte(c.opts.ClientID + ":" + c.opts.ClientSecret.Reveal()))
	req.Header.Set("Authorization", "Basic "+basic)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rp, err := c.do(ctx, exchange{op: "token", req: req, maxBody: c.opts.MaxReplyBytes})
	if err != nil {
		return token{}, err
	}
	if rp.status != http.StatusOK {
		e := c.statusError("token", rp)
		if e.Kind == Rejected || e.Kind == Protocol {
			// 400 (bad request body), 404 (wrong upload_url) and the like
			// will not mend with time: the operator must fix the config.
			e.Kind = Credentials
		}
		switch rp.status {
		case http.StatusBadRequest:
			e.Message = joinMessage(e.Message, "token request refused: check flinks.client_id, flinks.client_secret and flinks.scope")
		case http.StatusUnauthorized:
			e.Message = joinMessage(e.Message, "invalid client credentials: check flinks.client_id and flinks.client_secret")
		}
		c.log.Debug().Int("http_status", rp.status).Msg("token refused")
		return token{}, e
	}
	parsed, err := parseTokenReply(rp.body)
	if err != nil {
		return token{}, &Error{Kind: Protocol, Op: "token", HTTPStatus: rp.status, Err: err}
	}
	tok := token{value: secret.New(parsed.AccessToken), expiry: sent.Add(parsed.Lifetime)}
	tok.refreshAt = tok.expiry.Add(-c.refreshBefore(parsed.Lifetime))
	c.log.Debug().Dur("expires_in", parsed.Lifetime).Msg("token obtained")
	return tok, nil
}

func joinMessage(server, hint string) string {
	if server == "" {
		return hint
	}
	return server + " (" + hint + ")"
}

// refreshBefore is how long before expiry a token of this lifetime is
// renewed.
func (c *Client) refreshBefore(lifetime time.Duration) time.Duration {
	if d := c.opts.TokenRefreshBefore; d > 0 && d < lifetime {
		return d
	}
	return min(30*time.Second, lifetime/5)
}

// tokenReply is a parsed token reply.
type tokenReply struct {
	AccessToken string
	TokenType   string
	Lifetime    time.Duration
}

// parseTokenReply parses the token endpoint's JSON. The token must be
// non-empty, the type Bearer (or absent), and the lifetime positive.
func parseTokenReply(body []byte) (tokenReply, error) {
	var raw struct {
		AccessToken string       `json:"access_token"`
		TokenType   string       `json:"token_type"`
		ExpiresIn   *json.Number `json:"expires_in"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return tokenReply{}, fmt.Errorf("token reply is not JSON: %w", err)
	}
	if raw.AccessToken == "" {
		return tokenReply{}, errors.New("token reply has no access_token")
	}
	if strings.ContainsAny(raw.AccessToken, "\r\n") {
		return tokenReply{}, errors.New("token reply's access_token holds a line break")
	}
	if raw.TokenType != "" && !strings.EqualFold(raw.TokenType, "Bearer") {
		return tokenReply{}, fmt.Errorf("token reply has token_type %q, want Bearer", raw.TokenType)
	}
	lifetime := defaultTokenLifetime
	if raw.ExpiresIn != nil {
		secs, err := raw.ExpiresIn.Float64()
		if err != nil || secs <= 0 || secs > 366*24*3600 {
			return tokenReply{}, fmt.Errorf("token reply has expires_in %s, want a positive number of seconds", raw.ExpiresIn.String())
		}
		lifetime = time.Duration(secs * float64(time.Second))
		if lifetime <= 0 {
			return tokenReply{}, fmt.Errorf("token reply has expires_in %s, want a positive number of seconds", raw.ExpiresIn.String())
		}
	}
	return tokenReply{AccessToken: raw.AccessToken, TokenType: raw.TokenType, Lifetime: lifetime}, nil
}
