package uploader

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
)

// FraudAnalysis polls the fraud analysis of one login. A 404 or a document
// still in progress gives Done false and no error.
func (c *Client) FraudAnalysis(ctx context.Context, loginID string) (FraudResult, error) {
	if c.fraudURL == "" {
		return FraudResult{}, fmt.Errorf("fraud: %w (set flinks.fraud.url)", ErrNoFraudURL)
	}
	if loginID == "" {
		return FraudResult{}, &Error{Kind: Local, Op: "fraud", Message: "empty login id"}
	}
	u := c.fraudURL + "/v3/" + url.PathEscape(c.opts.CustomerID) + "/upload/fraudanalysis/" + url.PathEscape(loginID)
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return FraudResult{}, &Error{Kind: Local, Op: "fraud", Err: err}
	}
	req.Header.Set("Authorization", "Bearer "+c.opts.APIKey.Reveal())
	rp, err := c.do(ctx, exchange{op: "fraud", req: req, maxBody: fraudReplyFactor * c.opts.MaxReplyBytes})
	if err != nil {
		return FraudResult{}, err
	}
	switch {
	case rp.status == http.StatusNotFound:
		return FraudResult{}, nil
	case rp.status == http.StatusUnauthorized || rp.status == http.StatusForbidden:
		e := c.statusError("fraud", rp)
		e.Message = joinMessage(e.Message, "the fraud API refused the key: check flinks.fraud.api_key and flinks.fraud.customer_id")
		return FraudResult{}, e
	case rp.status < 200 || rp.status > 299:
		return FraudResult{}, c.statusError("fraud", rp)
	}
	res, err := parseFraudReply(rp.body, loginID)
	if err != nil {
		return FraudResult{}, &Error{Kind: Protocol, Op: "fraud", HTTPStatus: rp.status, Err: err}
	}
	return res, nil
}

// parseFraudReply reads a fraud analysis reply. Done is true when there is
// at least one document and every one has a terminal status; Failed when at
// least one ended in an error status. loginID, when not empty, must match
// the reply's Login.LoginId if it has one.
func parseFraudReply(body []byte, loginID string) (FraudResult, error) {
	var raw struct {
		Message string `json:"Message"`
		Login   *struct {
			LoginID   string `json:"LoginId"`
			RequestID string `json:"RequestId"`
		} `json:"Login"`
		DocumentAnalysis []json.RawMessage `json:"DocumentAnalysis"`
	}
	if err := json.Unmarshal(body, &raw); err != nil {
		return FraudResult{}, fmt.Errorf("fraud reply is not the documented JSON: %w", err)
	}
	res := FraudResult{Message: raw.Message, Documents: raw.DocumentAnalysis}
	if raw.Login != nil {
		res.LoginID, res.RequestID = raw.Login.LoginID, raw.Login.RequestID
	}
	if loginID != "" && res.LoginID != "" && res.LoginID != loginID {
		return FraudResult{}, fmt.Errorf("fraud reply is for login %q, asked for %q", res.LoginID, loginID)
	}
	allTerminal := len(raw.DocumentAnalysis) > 0
	for i, d := range raw.DocumentAnalysis {
		var doc struct {
			Status       string `json:"Status"`
			FullAnalysis []struct {
				FraudSignals []json.RawMessage `json:"FraudSignals"`
			} `json:"FullAnalysis"`
		}
		if err := json.Unmarshal(d, &doc); err != nil {
			return FraudResult{}, fmt.Errorf("fraud reply DocumentAnalysis[%d]: %w", i, err)
		}
		if doc.Status == "" {
			return FraudResult{}, fmt.Errorf("fraud reply DocumentAnalysis[%d] has no Status", i)
		}
		for _, a := range doc.FullAnalysis {
			res.SignalCount += len(a.FraudSignals)
		}
		switch statusClass(doc.Status) {
		case statusFailed:
			res.Failed = true
		case statusPending:
			allTerminal = false
		}
	}
	res.Done = allTerminal
	return res, nil
}

type docStatus int

const (
	statusPending docStatus = iota
	statusCompleted
	statusFailed
)

// statusClass sorts a document status. Statuses other than COMPLETED are
// not documented: one holding a word of failure is terminal with an error,
// anything else is "not yet".
func statusClass(s string) docStatus {
	s = strings.ToUpper(strings.TrimSpace(s))
	if s == "COMPLETED" {
		return statusCompleted
	}
	for _, w := range [...]string{"FAIL", "ERROR", "REJECT", "CANCEL", "ABORT", "DENIED", "INVALID", "UNSUPPORTED"} {
		if strings.Contains(s, w) {
			return statusFailed
		}
	}
	return statusPending
}
