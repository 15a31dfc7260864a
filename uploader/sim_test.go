package uploader

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/flinkdrop/flinkdrop/flinkssim"
	"github.com/flinkdrop/flinkdrop/internal/clock"
	"github.com/flinkdrop/flinkdrop/internal/secret"
	"github.com/flinkdrop/flinkdrop/internal/testutil"
)

// startSim starts the simulator for one test.
func startSim(t testing.TB, o flinkssim.Options) *flinkssim.Sim {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	sim, err := flinkssim.Start(o)
	if err != nil {
		t.Fatalf("flinkssim.Start: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// simOptions returns client Options that work against sim.
func simOptions(sim *flinkssim.Sim) Options {
	id, sec, key, customer := sim.Credentials()
	certs := sim.Certs()
	return Options{
		UploadURL:    sim.UploadURL(),
		ClientID:     id,
		ClientSecret: secret.New(sec),
		TLS:          TLSFiles{CertFile: certs.ClientCertFile, KeyFile: certs.ClientKeyFile, CAFile: certs.CAFile},
		FraudURL:     sim.FraudURL(),
		CustomerID:   customer,
		APIKey:       secret.New(key),
		Log:          zerolog.Nop(),
	}
}

// newSimClient makes a client for sim with its options adjusted by adjust,
// closed at cleanup.
func newSimClient(t testing.TB, sim *flinkssim.Sim, adjust func(*Options)) *Client {
	t.Helper()
	return newClient(t, simOptions(sim), adjust)
}

// pdfFile writes a file that passes the simulator's type check.
func pdfFile(t testing.TB, dir, name string, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	_, _ = rand.Read(data)
	copy(data, "%PDF-1.7\n")
	p := filepath.Join(dir, name)
	testutil.WriteFile(t, p, data)
	return p, data
}

func TestSimFullSession(t *testing.T) {
	for _, pfx := range []bool{false, true} {
		name := "PEM"
		if pfx {
			name = "PFX"
		}
		t.Run(name, func(t *testing.T) {
			sim := startSim(t, flinkssim.Options{})
			var logs testutil.SyncBuffer
			c := newSimClient(t, sim, func(o *Options) {
				o.Log = zerolog.New(&logs).Level(zerolog.TraceLevel)
				if pfx {
					certs := sim.Certs()
					o.TLS = TLSFiles{PFXFile: certs.ClientPFXFile, PFXPassword: secret.New(certs.PFXPassword), CAFile: certs.CAFile}
				}
			})
			ctx := context.Background()
			dir := t.TempDir()
			names := []string{"janvier relevé.pdf", "février.pdf", "名前.pdf"}
			sums := map[string]string{}
			agg := ""
			for i, n := range names {
				p, data := pdfFile(t, dir, n, 1000*(i+1)+i)
				res, err := c.Upload(ctx, UploadRequest{AggregationID: agg, FileName: n, Path: p, Tag: "tag-1", ClientName: "Zoë"})
				if err != nil {
					t.Fatalf("Upload(%s) = %v", n, err)
				}
				if agg != "" && res.AggregationID != agg {
					t.Fatalf("AggregationID = %q, want %q", res.AggregationID, agg)
				}
				agg = res.AggregationID
				sums[n] = sha(data)
				if res.SHA256 != sums[n] {
					t.Errorf("Upload(%s).SHA256 = %s, want %s", n, res.SHA256, sums[n])
				}
			}
			done, err := c.Complete(ctx, agg)
			if err != nil {
				t.Fatalf("Complete = %v", err)
			}
			if done.LoginID == "" || done.AggregationID != agg {
				t.Fatalf("Complete = %+v, want a login id for %s", done, agg)
			}
			var fr FraudResult
			for poll := 0; !fr.Done; poll++ {
				if poll > 10 {
					t.Fatalf("fraud analysis not done after %d polls: %+v", poll, fr)
				}
				fr, err = c.FraudAnalysis(ctx, done.LoginID)
				if err != nil {
					t.Fatalf("FraudAnalysis = %v", err)
				}
			}
			if len(fr.Documents) != len(names) || fr.LoginID != done.LoginID {
				t.Errorf("fraud result has %d documents for login %q, want %d for %q", len(fr.Documents), fr.LoginID, len(names), done.LoginID)
			}

			aggs := sim.Aggregations()
			if len(aggs) != 1 || !aggs[0].Completed || aggs[0].LoginID != done.LoginID {
				t.Fatalf("simulator aggregations = %+v, want one completed with login %s", aggs, done.LoginID)
			}
			for i, f := range aggs[0].Files {
				if f.Name != names[i] || f.SHA256 != sums[f.Name] || f.Tag != "tag-1" || f.ClientName != "Zoë" {
					t.Errorf("simulator file %d = %+v, want %s with sha %s", i, f, names[i], sums[f.Name])
				}
			}
			if got := sim.Stats().TokenRequests; got != 1 {
				t.Errorf("token requests = %d, want 1", got)
			}

			id, sec, key, _ := sim.Credentials()
			for what, s := range map[string]string{
				"client secret": sec, "api key": key, "pfx password": sim.Certs().PFXPassword,
				"basic credentials": base64.StdEncoding.EncodeToString([]byte(id + ":" + sec)),
			} {
				if strings.Contains(logs.String(), s) {
					t.Errorf("the log shows the %s", what)
				}
			}
			if strings.Contains(logs.String(), "Bearer") {
				t.Errorf("the log shows a bearer token:\n%s", logs.String())
			}
		})
	}
}

func TestSimErrors(t *testing.T) {
	ctx := context.Background()
	t.Run("certificate from another CA", func(t *testing.T) {
		sim := startSim(t, flinkssim.Options{})
		c := newSimClient(t, sim, func(o *Options) {
			o.TLS.CertFile, o.TLS.KeyFile = sim.Certs().OtherCAClientCertFile, sim.Certs().OtherCAClientKeyFile
		})
		wantKind(t, "Token", c.Token(ctx), Credentials)
	})
	t.Run("wrong secret", func(t *testing.T) {
		sim := startSim(t, flinkssim.Options{})
		c := newSimClient(t, sim, func(o *Options) { o.ClientSecret = secret.New("nope") })
		err := c.Token(ctx)
		wantKind(t, "Token", err, Credentials)
		if HTTPStatusOf(err) != 401 {
			t.Errorf("HTTPStatusOf(%v) = %d, want 401", err, HTTPStatusOf(err))
		}
	})
	t.Run("wrong scope", func(t *testing.T) {
		sim := startSim(t, flinkssim.Options{})
		c := newSimClient(t, sim, func(o *Options) { o.Scope = "ocr.read" })
		wantKind(t, "Token", c.Token(ctx), Credentials)
	})
	t.Run("token expired on the server", func(t *testing.T) {
		simClock := clock.NewFake(testStart)
		sim := startSim(t, flinkssim.Options{Clock: simClock})
		c := newSimClient(t, sim, func(o *Options) { o.Clock = clock.NewFake(testStart) })
		if err := c.Token(ctx); err != nil {
			t.Fatal(err)
		}
		simClock.Advance(time.Hour) // the server thinks the token expired; the client does not
		p, _ := pdfFile(t, t.TempDir(), "a.pdf", 500)
		if _, err := c.Upload(ctx, UploadRequest{FileName: "a.pdf", Path: p}); err != nil {
			t.Fatalf("Upload after server-side expiry = %v, want success after one refresh", err)
		}
		if got := sim.Stats().TokenRequests; got != 2 {
			t.Errorf("token requests = %d, want 2", got)
		}
	})
	t.Run("wrong fraud key", func(t *testing.T) {
		sim := startSim(t, flinkssim.Options{})
		c := newSimClient(t, sim, func(o *Options) { o.APIKey = secret.New("nope") })
		_, err := c.FraudAnalysis(ctx, "some-login")
		wantKind(t, "FraudAnalysis", err, Credentials)
	})
	t.Run("file refused", func(t *testing.T) {
		sim := startSim(t, flinkssim.Options{})
		c := newSimClient(t, sim, nil)
		p := tempFile(t, "a.pdf", []byte("not a pdf at all"))
		_, err := c.Upload(ctx, UploadRequest{FileName: "a.pdf", Path: p})
		wantKind(t, "Upload", err, Rejected)
		var e *Error
		if errors.As(err, &e) && e.Message == "" {
			t.Errorf("Rejected error %v has no server message", err)
		}
	})
	t.Run("injected 503", func(t *testing.T) {
		sim := startSim(t, flinkssim.Options{Faults: flinkssim.Faults{ErrorRate: 1}})
		c := newSimClient(t, sim, nil)
		err := c.Token(ctx)
		wantKind(t, "Token", err, Transient)
		if RetryAfterOf(err) != time.Second {
			t.Errorf("RetryAfterOf(%v) = %v, want 1s", err, RetryAfterOf(err))
		}
	})
	t.Run("injected reset", func(t *testing.T) {
		sim := startSim(t, flinkssim.Options{Faults: flinkssim.Faults{ResetRate: 1}})
		c := newSimClient(t, sim, nil)
		wantKind(t, "Token", c.Token(ctx), Transient)
	})
}

// benchUpload uploads a file of size bytes b.N times to the simulator, each
// as a new aggregation, and reports MB/s and allocations per upload.
func benchUpload(b *testing.B, size int) {
	sim := startSim(b, flinkssim.Options{})
	c := newSimClient(b, sim, nil)
	ctx := context.Background()
	p, _ := pdfFile(b, b.TempDir(), "bench.pdf", size)
	if _, err := c.Upload(ctx, UploadRequest{FileName: "bench.pdf", Path: p}); err != nil { // warm up: token, connection, pool
		b.Fatal(err)
	}
	b.SetBytes(int64(size))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if _, err := c.Upload(ctx, UploadRequest{FileName: "bench.pdf", Path: p}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkUpload1MB(b *testing.B)  { benchUpload(b, 1<<20) }
func BenchmarkUpload18MB(b *testing.B) { benchUpload(b, 18<<20) }
