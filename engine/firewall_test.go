// firewall_test.go checks how DLP policies act on a request and an answer: which policies
// a finding names, the strongest action winning, REDACT masking every body that goes
// upstream, and a streamed answer held back, scanned whole and blocked.
package engine_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/switchyard/switchyard/engine"
	"github.com/switchyard/switchyard/engine/dlp"
	"github.com/switchyard/switchyard/engine/providers"
)

func dlpCheck(t *testing.T, policies ...engine.DLPPolicy) *engine.DLPCheck {
	t.Helper()
	byID := map[string]dlp.Profile{}
	for _, p := range dlp.Predefined() {
		byID[p.ID] = p
	}
	c, err := engine.NewDLPCheck(policies, func(id string) (dlp.Profile, bool) { p, ok := byID[id]; return p, ok })
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestDLPCheckRequest(t *testing.T) {
	fin := dlp.ProfileFinancial
	pii := dlp.ProfilePII
	body := `{"model":"m","messages":[{"role":"user","content":"card 4111 1111 1111 1111, mail kim@example.com"}]}`
	for _, c := range []struct {
		name     string
		policies []engine.DLPPolicy
		action   string // the request's DLP action, "" for none
		named    string // policy ids per finding
		code     int    // the failure's code, 0 when the request goes on
		masked   bool
	}{
		{"flag", []engine.DLPPolicy{{ID: "f", Profiles: []string{fin}, Action: "FLAG", Request: true}}, "FLAG", "f", 0, false},
		{"response-only policy does not look at the request", []engine.DLPPolicy{{ID: "r", Profiles: []string{fin}, Action: "BLOCK", Response: true}}, "", "", 0, false},
		{"block wins over flag", []engine.DLPPolicy{{ID: "f", Profiles: []string{fin, pii}, Action: "FLAG", Request: true},
			{ID: "b", Profiles: []string{pii}, Action: "BLOCK", Request: true}}, "BLOCK", "f f,b", engine.CodeDLPRequest, false},
		{"redact", []engine.DLPPolicy{{ID: "m", Profiles: []string{fin}, Action: "REDACT", Request: true, Response: true}}, "REDACT", "m", 0, true},
		{"nothing in the profile", []engine.DLPPolicy{{ID: "c", Profiles: []string{dlp.ProfileHealthcare}, Action: "BLOCK", Request: true}}, "", "", 0, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			step := &engine.Target{Send: []byte(body)}
			req := &engine.Request{Body: []byte(body), CType: "application/json", Steps: []*engine.Target{step}}
			dlpCheck(t, c.policies...).CheckRequest(req)
			got, ids := "", []string{}
			if req.DLPResult != nil {
				got = req.DLPResult.Action
				for _, f := range req.DLPResult.Findings {
					ids = append(ids, strings.Join(f.PolicyIDs, ","))
					if f.Check != "REQUEST" {
						t.Errorf("check %q", f.Check)
					}
				}
			}
			if got != c.action || strings.Join(ids, " ") != c.named {
				t.Fatalf("action %q policies %q, want %q %q", got, ids, c.action, c.named)
			}
			if (req.Fail == nil) != (c.code == 0) || (req.Fail != nil && (req.Fail.Code != c.code || req.Fail.Status != 400)) {
				t.Fatalf("fail %v, want code %d", req.Fail, c.code)
			}
			for _, b := range [][]byte{req.Body, step.Send} {
				if has := strings.Contains(string(b), "4111 1111 1111 1111"); has == c.masked {
					t.Fatalf("masked %v: %s", !has, b)
				}
				if c.masked && (!strings.Contains(string(b), "kim@example.com") || len(b) != len(body)) {
					t.Fatalf("masked more than the card: %s", b)
				}
			}
			if h := req.DLPHeader(); (h == "") != (c.action == "") {
				t.Fatalf("header %q", h)
			}
		})
	}
	var nilCheck *engine.DLPCheck
	req := &engine.Request{Body: []byte(body)}
	nilCheck.CheckRequest(req)
	if req.DLPResult != nil || req.Fail != nil {
		t.Fatal("a gateway without DLP checked the request")
	}
}

func TestDLPCheckResponseHoldsBackStreams(t *testing.T) {
	fin := dlp.ProfileFinancial
	// The card number arrives over four events, as a model streams it.
	url := upstreamServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/event-stream")
		for _, part := range []string{"card ", "4111 ", "1111 ", "1111 ", "1111"} {
			fmt.Fprintf(w, "data: {\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", part)
			w.(http.Flusher).Flush()
		}
		fmt.Fprint(w, "data: [DONE]\n\n")
	})
	for _, c := range []struct {
		action string
		status int
	}{{"BLOCK", 400}, {"FLAG", 200}} {
		t.Run(c.action, func(t *testing.T) {
			check := dlpCheck(t, engine.DLPPolicy{ID: "p", Profiles: []string{fin}, Action: c.action, Response: true})
			req := &engine.Request{LogID: "L", AccountID: "a", GatewayID: "g", Method: "POST", Body: []byte(`{"model":"m","stream":true}`), ReceivedAt: time.Now(),
				Target: engine.Target{Provider: providers.Custom("custom-test", url), Slug: "custom-test", Rest: "/chat/completions", Stream: true}}
			x := engine.NewExchange(req, nil)
			forwarder(&recordingClock{}).Do(x)
			check.CheckResponse(x)
			x.Done()
			if x.Streaming() || !x.Buffered() || x.Status != c.status || req.DLPResult == nil || req.DLPResult.Action != c.action {
				t.Fatalf("streaming %v buffered %v status %d result %+v", x.Streaming(), x.Buffered(), x.Status, req.DLPResult)
			}
			if c.action == "BLOCK" && (x.Err == nil || x.Err.Code != engine.CodeDLPResponse || strings.Contains(string(x.Body), "4111")) {
				t.Fatalf("blocked answer: %v %s", x.Err, x.Body)
			}
			if c.action == "FLAG" && !strings.HasSuffix(string(x.Body), "data: [DONE]\n\n") {
				t.Fatalf("flagged answer: %s", x.Body)
			}
		})
	}
}

// BenchmarkDLPCheckRequest is what DLP adds to a request: the text of a 1 KB chat request
// and its scan with every predefined profile on, nothing found.
func BenchmarkDLPCheckRequest(b *testing.B) {
	byID := map[string]dlp.Profile{}
	var all []string
	for _, p := range dlp.Predefined() {
		byID[p.ID] = p
		all = append(all, p.ID)
	}
	c, err := engine.NewDLPCheck([]engine.DLPPolicy{{ID: "all", Profiles: all, Action: "BLOCK", Request: true, Response: true}},
		func(id string) (dlp.Profile, bool) { p, ok := byID[id]; return p, ok })
	if err != nil {
		b.Fatal(err)
	}
	prompt := strings.Repeat("Summarise the quarterly report for the board, focusing on revenue, churn and hiring plans. ", 11)
	body := []byte(`{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a helpful assistant."},{"role":"user","content":"` + prompt + `"}]}`)
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		req := &engine.Request{Body: body, CType: "application/json"}
		c.CheckRequest(req)
		if req.Fail != nil || req.DLPResult != nil {
			b.Fatal("found something in a clean prompt")
		}
	}
}
