package uploader

import (
	"context"
	"errors"
	"net/http"
	"testing"
)

const fraudClean = `{"HttpStatusCode":200,"Message":"No Fraud Signal Detected","Login":{"LoginId":"L1","RequestId":"R1"},
"DocumentAnalysis":[{"Status":"COMPLETED","FullAnalysis":[{"DocumentType":"BANK_STATEMENT","FraudSignals":[]}]}]}`

const fraudSignals = `{"HttpStatusCode":200,"Login":{"LoginId":"L1","RequestId":"R1"},
"DocumentAnalysis":[
 {"Status":"COMPLETED","FullAnalysis":[{"DocumentType":"BANK_STATEMENT","FraudSignals":[
   {"Type":"SIGNAL_TYPE","PageNumber":1,"Count":2,"UnderlyingData":[{"Details":[{"SpecificType":"delta","Value":"0.85","DataType":"float"}]}]},
   {"Type":"OTHER","PageNumber":2,"Count":1}]}]},
 {"Status":"COMPLETED","FullAnalysis":[{"FraudSignals":[{"Type":"X"}]},{"FraudSignals":[]}]}]}`

func TestParseFraudReply(t *testing.T) {
	tests := []struct {
		name                string
		body                string
		wantDone, wantFail  bool
		wantSignals, wantNo int
		wantErr             bool
	}{
		{"clean", fraudClean, true, false, 0, 1, false},
		{"signals over documents", fraudSignals, true, false, 3, 2, false},
		{"one still processing", `{"Login":{"LoginId":"L1"},"DocumentAnalysis":[{"Status":"COMPLETED"},{"Status":"PROCESSING"}]}`, false, false, 0, 2, false},
		{"unknown status is not yet", `{"DocumentAnalysis":[{"Status":"QUEUED"}]}`, false, false, 0, 1, false},
		{"no documents yet", `{"Login":{"LoginId":"L1"},"DocumentAnalysis":[]}`, false, false, 0, 0, false},
		{"documents missing", `{"Message":"pending"}`, false, false, 0, 0, false},
		{"failed document is terminal", `{"DocumentAnalysis":[{"Status":"COMPLETED"},{"Status":"FAILED"}]}`, true, true, 0, 2, false},
		{"error status, lower case", `{"DocumentAnalysis":[{"Status":"processing_error"}]}`, true, true, 0, 1, false},
		{"rejected and pending", `{"DocumentAnalysis":[{"Status":"REJECTED"},{"Status":"IN_PROGRESS"}]}`, false, true, 0, 2, false},
		{"document without status", `{"DocumentAnalysis":[{"FullAnalysis":[]}]}`, false, false, 0, 0, true},
		{"document not an object", `{"DocumentAnalysis":[3]}`, false, false, 0, 0, true},
		{"other login", `{"Login":{"LoginId":"L2"},"DocumentAnalysis":[{"Status":"COMPLETED"}]}`, false, false, 0, 0, true},
		{"not JSON", `<html>`, false, false, 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseFraudReply([]byte(tt.body), "L1")
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseFraudReply error = %v, want error %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			if got.Done != tt.wantDone || got.Failed != tt.wantFail || got.SignalCount != tt.wantSignals || len(got.Documents) != tt.wantNo {
				t.Errorf("parseFraudReply = done %v failed %v signals %d docs %d, want %v %v %d %d",
					got.Done, got.Failed, got.SignalCount, len(got.Documents), tt.wantDone, tt.wantFail, tt.wantSignals, tt.wantNo)
			}
		})
	}
	got, _ := parseFraudReply([]byte(fraudClean), "L1")
	if got.LoginID != "L1" || got.RequestID != "R1" || got.Message != "No Fraud Signal Detected" {
		t.Errorf("ids = %q %q %q, want L1 R1 and the message", got.LoginID, got.RequestID, got.Message)
	}
}

func TestFraudAnalysis(t *testing.T) {
	f := newFakeFlinks(t)
	f.set(func() { f.fraud["L1"] = fraudSignals })
	c := newTestClient(t, f, nil)
	ctx := context.Background()

	res, err := c.FraudAnalysis(ctx, "L1")
	if err != nil {
		t.Fatal(err)
	}
	if !res.Done || res.SignalCount != 3 || len(res.Documents) != 2 {
		t.Errorf("FraudAnalysis = %+v, want done with 3 signals in 2 documents", res)
	}
	if got := f.tokenRequests(); got != 0 {
		t.Errorf("token requests = %d, want 0 (the fraud call uses the API key)", got)
	}

	res, err = c.FraudAnalysis(ctx, "unknown")
	if err != nil || res.Done {
		t.Errorf("FraudAnalysis(404) = %+v, %v; want not done, nil", res, err)
	}

	bad := newTestClient(t, f, func(o *Options) { o.APIKey = secretOf("wrong") })
	_, err = bad.FraudAnalysis(ctx, "L1")
	wantKind(t, "FraudAnalysis with a wrong key", err, Credentials)

	other := newTestClient(t, f, func(o *Options) { o.CustomerID = "cust-2" })
	_, err = other.FraudAnalysis(ctx, "L1")
	wantKind(t, "FraudAnalysis(403)", err, Credentials)

	f.set(func() {
		f.onFraud = func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Retry-After", "5")
			w.WriteHeader(503)
		}
	})
	_, err = c.FraudAnalysis(ctx, "L1")
	wantKind(t, "FraudAnalysis(503)", err, Transient)

	none := newTestClient(t, f, func(o *Options) { o.FraudURL = "" })
	if _, err := none.FraudAnalysis(ctx, "L1"); !errors.Is(err, ErrNoFraudURL) {
		t.Errorf("FraudAnalysis without a URL = %v, want ErrNoFraudURL", err)
	}
}
