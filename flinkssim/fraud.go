package flinkssim

import (
	"fmt"
	"net/http"
	"strings"
)

type fraudReply struct {
	HTTPStatusCode   int                `json:"HttpStatusCode"`
	Message          string             `json:"Message,omitempty"`
	Login            fraudLogin         `json:"Login"`
	DocumentAnalysis []documentAnalysis `json:"DocumentAnalysis"`
}

type fraudLogin struct {
	LoginID   string `json:"LoginId"`
	RequestID string `json:"RequestId"`
}

type documentAnalysis struct {
	Status       string         `json:"Status"`
	FullAnalysis []fullAnalysis `json:"FullAnalysis"`
}

type fullAnalysis struct {
	DocumentType string        `json:"DocumentType"`
	FraudSignals []fraudSignal `json:"FraudSignals"`
}

type fraudSignal struct {
	Type           string           `json:"Type"`
	PageNumber     int              `json:"PageNumber"`
	Count          int              `json:"Count"`
	UnderlyingData []underlyingData `json:"UnderlyingData"`
}

type underlyingData struct {
	Details []signalDetail `json:"Details"`
}

type signalDetail struct {
	SpecificType string `json:"SpecificType"`
	Value        string `json:"Value"`
	DataType     string `json:"DataType"`
}

func (s *Sim) fraudHandler() http.Handler {
	h := s.withFaults("fraud", false, s.handleFraud)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/v3/") {
			writeError(w, &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("no such endpoint %s %s", r.Method, r.URL.Path)})
			return
		}
		h(w, r)
	})
}

// handleFraud serves GET /v3/{customerId}/upload/fraudanalysis/{loginId}.
func (s *Sim) handleFraud(w http.ResponseWriter, r *http.Request, _ bool) {
	parts := strings.Split(r.URL.Path, "/")
	if len(parts) != 6 || parts[3] != "upload" || parts[4] != "fraudanalysis" || parts[2] == "" || parts[5] == "" {
		writeError(w, &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("no such endpoint %s %s", r.Method, r.URL.Path)})
		return
	}
	if methodNotAllowed(w, r, http.MethodGet) {
		return
	}
	s.stats.fraudPolls.Add(1)
	customer, login := parts[2], parts[5]
	key, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !found || !equalSecret(key, s.apiKey) {
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeError(w, &apiError{status: http.StatusUnauthorized, msg: "Authorization must be Bearer <API secret key>: the key is missing or wrong"})
		return
	}
	if customer != s.opts.CustomerID {
		writeError(w, &apiError{status: http.StatusForbidden, msg: fmt.Sprintf("customer %q is not the customer of this API key", customer)})
		return
	}
	reply, e := s.analysis(login)
	if e != nil {
		s.log.Debug().Str("login_id", login).Int("status", e.status).Msg("fraud analysis not available")
		writeError(w, e)
		return
	}
	s.log.Debug().Str("login_id", login).Str("status", reply.DocumentAnalysis[0].Status).Msg("fraud analysis polled")
	writeJSON(w, http.StatusOK, reply)
}

// analysis returns the answer to one poll of login and counts the poll.
func (s *Sim) analysis(login string) (*fraudReply, *apiError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.logins[login]
	if a == nil {
		return nil, &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("login %q is unknown", login)}
	}
	poll := a.polls
	a.polls++
	notYet := s.opts.FraudPolls == FraudNever || poll < s.opts.FraudPolls
	if notYet && poll == 0 {
		return nil, &apiError{status: http.StatusNotFound, msg: fmt.Sprintf("the analysis of login %q does not exist yet", login)}
	}
	reply := &fraudReply{HTTPStatusCode: http.StatusOK, Login: fraudLogin{LoginID: a.loginID, RequestID: a.requestID}}
	signals := 0
	for _, f := range a.files {
		if notYet {
			reply.DocumentAnalysis = append(reply.DocumentAnalysis, documentAnalysis{Status: "PROCESSING", FullAnalysis: []fullAnalysis{}})
			continue
		}
		fs := signalsFor(f.Name)
		signals += len(fs)
		reply.DocumentAnalysis = append(reply.DocumentAnalysis, documentAnalysis{
			Status:       "COMPLETED",
			FullAnalysis: []fullAnalysis{{DocumentType: "BANK_STATEMENT", FraudSignals: fs}},
		})
	}
	if !notYet && signals == 0 {
		reply.Message = "No Fraud Signal Detected"
	}
	return reply, nil
}

// signalsFor returns the fraud signals of a file: two for a name holding
// "fraud" (any case), none otherwise.
func signalsFor(name string) []fraudSignal {
	if !strings.Contains(strings.ToLower(name), "fraud") {
		return []fraudSignal{}
	}
	return []fraudSignal{
		{Type: "ALTERED_TEXT", PageNumber: 1, Count: 2, UnderlyingData: []underlyingData{{Details: []signalDetail{
			{SpecificType: "delta", Value: "0.85", DataType: "float"},
		}}}},
		{Type: "METADATA_MISMATCH", PageNumber: 1, Count: 1, UnderlyingData: []underlyingData{{Details: []signalDetail{
			{SpecificType: "producer", Value: "unknown editor", DataType: "string"},
		}}}},
	}
}
