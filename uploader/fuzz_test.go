package uploader

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func FuzzParseTokenReply(f *testing.F) {
	for _, s := range []string{
		`{"access_token":"eyJhbGci","token_type":"Bearer","expires_in":300}`,
		`{"access_token":"a","expires_in":"300"}`,
		`{"access_token":"a","expires_in":1e308}`,
		`{"access_token":"a","expires_in":0.0001}`,
		`{"access_token":"","expires_in":300}`,
		`{"access_token":"a\r\nX: y"}`,
		`[]`, `null`, ``, `{"expires_in":-5}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, err := parseTokenReply(body)
		if err != nil {
			return
		}
		if got.AccessToken == "" || got.Lifetime <= 0 || strings.ContainsAny(got.AccessToken, "\r\n") {
			t.Errorf("parseTokenReply(%q) = %+v without error: want a token without line breaks and a positive lifetime", body, got)
		}
	})
}

func FuzzParseUploadReply(f *testing.F) {
	for _, s := range []string{
		`{"HttpStatusCode":200,"AggregationId":"d521ae0d-9cf1-40e1-a1ee-474983800601","Message":"ok"}`,
		`{"HttpStatusCode":200,"AggregationId":"other"}`,
		`{"HttpStatusCode":"200"}`, `{"AggregationId":null}`, `[`, ``,
	} {
		f.Add([]byte(s), "")
		f.Add([]byte(s), "d521ae0d-9cf1-40e1-a1ee-474983800601")
	}
	f.Fuzz(func(t *testing.T, body []byte, sent string) {
		got, err := parseUploadReply(body, sent)
		if err != nil {
			return
		}
		if got.AggregationID == "" || (sent != "" && got.AggregationID != sent) {
			t.Errorf("parseUploadReply(%q, %q) = %+v without error", body, sent, got)
		}
	})
}

func FuzzParseCompleteReply(f *testing.F) {
	for _, s := range []string{
		`{"HttpStatusCode":200,"AggregationId":"A","Login":{"Id":"aabf32b7"},"Message":"All files were uploaded"}`,
		`{"AggregationId":"A","Login":{}}`, `{"AggregationId":"B","Login":{"Id":"x"}}`,
		`{"Login":null}`, `{"Login":"x"}`, ``,
	} {
		f.Add([]byte(s), "A")
	}
	f.Fuzz(func(t *testing.T, body []byte, sent string) {
		got, err := parseCompleteReply(body, sent)
		if err != nil {
			return
		}
		if got.LoginID == "" || got.AggregationID != sent {
			t.Errorf("parseCompleteReply(%q, %q) = %+v without error", body, sent, got)
		}
	})
}

func FuzzParseFraudReply(f *testing.F) {
	for _, s := range []string{
		fraudClean, fraudSignals,
		`{"DocumentAnalysis":[{"Status":"PROCESSING"}]}`,
		`{"DocumentAnalysis":[{"Status":"FAILED","FullAnalysis":[{"FraudSignals":[1,2]}]}]}`,
		`{"DocumentAnalysis":[null]}`, `{"DocumentAnalysis":{}}`, `{"Login":{"LoginId":5}}`, ``,
	} {
		f.Add([]byte(s), "L1")
	}
	f.Fuzz(func(t *testing.T, body []byte, loginID string) {
		got, err := parseFraudReply(body, loginID)
		if err != nil {
			return
		}
		if got.Done && len(got.Documents) == 0 {
			t.Errorf("parseFraudReply(%q) is Done with no documents", body)
		}
		if got.SignalCount < 0 {
			t.Errorf("parseFraudReply(%q) SignalCount = %d", body, got.SignalCount)
		}
		if loginID != "" && got.LoginID != "" && got.LoginID != loginID {
			t.Errorf("parseFraudReply(%q, %q) accepted login %q", body, loginID, got.LoginID)
		}
		for _, d := range got.Documents {
			if len(d) == 0 {
				t.Errorf("parseFraudReply(%q) kept an empty document", body)
			}
		}
	})
}

func FuzzServerMessage(f *testing.F) {
	for _, s := range []string{`{"Message":"The file type is not supported."}`, `{"error":"invalid_client"}`, "plain \xff text", strings.Repeat("é", 600)} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got := serverMessage(body)
		if !utf8.ValidString(got) {
			t.Errorf("serverMessage(%q) = %q, not valid UTF-8", body, got)
		}
		if len(got) > maxMessage+len("…") {
			t.Errorf("serverMessage(%q) has %d bytes, want at most %d", body, len(got), maxMessage+len("…"))
		}
	})
}

func FuzzParseRetryAfter(f *testing.F) {
	for _, s := range []string{"120", "0", "-1", "Wed, 21 Oct 2015 07:28:00 GMT", "99999999999999999999", "soon"} {
		f.Add(s)
	}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, v string) {
		if got := parseRetryAfter(v, now); got < 0 {
			t.Errorf("parseRetryAfter(%q) = %v, want >= 0", v, got)
		}
	})
}
