package pipeline

import (
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/secret"
	"github.com/flinkdrop/flinkdrop/report"
	"github.com/flinkdrop/flinkdrop/uploader"
	"github.com/flinkdrop/flinkdrop/watcher"
)

// startSim starts the simulator and a real client for it.
func startSim(t testing.TB, opts flinkssim.Options) (*flinkssim.Sim, *uploader.Client) {
	t.Helper()
	opts.Dir = t.TempDir()
	opts.Log = zerolog.Nop()
	sim, err := flinkssim.Start(opts)
	if err != nil {
		t.Fatalf("flinkssim.Start: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	id, sec, key, customer := sim.Credentials()
	certs := sim.Certs()
	c, err := uploader.New(uploader.Options{
		UploadURL: sim.UploadURL(), ClientID: id, ClientSecret: secret.New(sec),
		TLS:      uploader.TLSFiles{CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile, CAFile: certs.CAFile},
		FraudURL: sim.FraudURL(), CustomerID: customer, APIKey: secret.New(key),
		Log: zerolog.Nop(),
	})
	if err != nil {
		t.Fatalf("uploader.New: %v", err)
	}
	t.Cleanup(c.Close)
	return sim, c
}

// Against the simulator with faults (503s, resets before and after the
// call is applied): every session gets a report, and every completed
// aggregation holds each file of its folder exactly once.
func TestAgainstSimulatorWithFaults(t *testing.T) {
	sim, client := startSim(t, flinkssim.Options{
		FraudPolls: 1,
		Faults:     flinkssim.Faults{ErrorRate: 0.1, ResetRate: 0.05, ResetAfterRate: 0.1, Seed: 7},
	})
	e := newEnv(t)
	e.opts.FraudEnabled = true
	e.opts.Workers = 4
	var batches []watcher.Batch
	wantFraud := map[string]bool{}
	for i := range 12 {
		files := map[string][]byte{"jan.pdf": pdfData, "feb.png": pngData, "mar.jpg": jpegData}
		if i%3 == 0 {
			files["fraud-apr.tif"] = tiffData
			wantFraud[fmt.Sprintf("app-%02d", i)] = true
		}
		batches = append(batches, e.batch(fmt.Sprintf("app-%02d", i), files))
	}
	p, err := New(e.st, client, e.opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := e.runOnce(p, batches...); err != nil {
		t.Fatalf("Run: %v", err)
	}
	reps := e.reports()
	if len(reps) != len(batches) {
		t.Fatalf("%d reports, want %d", len(reps), len(batches))
	}
	byAgg := map[string]report.Report{}
	for folder, r := range reps {
		byAgg[r.AggregationID] = r
		switch r.Outcome {
		case report.OutcomeClean, report.OutcomeFraudSignals:
			if got := r.Outcome == report.OutcomeFraudSignals; got != wantFraud[folder] {
				t.Errorf("%s: outcome %s, want fraud signals %v", folder, r.Outcome, wantFraud[folder])
			}
		case report.OutcomeFailed:
			// Only a complete in doubt may fail: its reply was lost and
			// the retry was refused.
			if r.Error == nil || r.Error.Stage != "complete" {
				t.Errorf("%s failed: %+v", folder, r.Error)
			}
		default:
			t.Errorf("%s: outcome %s (%+v)", folder, r.Outcome, r.Error)
		}
	}
	for _, a := range sim.Aggregations() {
		if !a.Completed {
			continue
		}
		r, ok := byAgg[a.ID]
		if !ok {
			t.Errorf("aggregation %s completed but no report names it", a.ID)
			continue
		}
		var got, want []string
		for _, f := range a.Files {
			got = append(got, f.Name)
		}
		for _, f := range r.Files {
			want = append(want, f.Name)
		}
		sort.Strings(got)
		sort.Strings(want)
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("aggregation %s (%s) holds %v, want each file once: %v", a.ID, r.Folder, got, want)
		}
	}
	if st := sim.Stats(); st.InjectedErrors+st.Resets == 0 {
		t.Errorf("no fault was injected (%+v): the test proves nothing", st)
	}
}

func BenchmarkPipelineFake(b *testing.B) {
	benchPipeline(b, func(tb testing.TB) Uploader { return newFake() })
}

func BenchmarkPipelineSimulator(b *testing.B) {
	benchPipeline(b, func(tb testing.TB) Uploader {
		_, c := startSim(tb, flinkssim.Options{})
		return c
	})
}

// benchPipeline measures sessions per second of three small files each,
// fraud off, four workers, through store, uploads, reports and moves.
func benchPipeline(b *testing.B, mk func(testing.TB) Uploader) {
	e := newEnv(b)
	e.opts.Workers = 4
	e.opts.Hook = nil
	batches := make([]watcher.Batch, b.N)
	for i := range batches {
		batches[i] = e.batch(fmt.Sprintf("s%06d", i), map[string][]byte{"a.pdf": pdfData, "b.png": pngData, "c.jpg": jpegData})
	}
	p, err := New(e.st, mk(b), e.opts)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	start := time.Now()
	if err := e.runOnce(p, batches...); err != nil {
		b.Fatal(err)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sessions/s")
}
