package cache

import (
	"strings"
	"sync"
	"testing"
	"time"
)

func TestReadPolicy(t *testing.T) {
	i := func(v int64) *int64 { return &v }
	cases := []struct {
		name    string
		hdr     map[string]string
		gateway *int64
		ttl     time.Duration
		skip    bool
		key     string
		off     bool
		err     string
	}{
		{name: "gateway off, no headers", off: true},
		{name: "gateway ttl", gateway: i(300), ttl: 300 * time.Second},
		{name: "gateway zero is off", gateway: i(0), off: true},
		{name: "header ttl on a gateway without caching", hdr: map[string]string{"cf-aig-cache-ttl": "3600"}, ttl: time.Hour},
		{name: "header beats gateway", gateway: i(300), hdr: map[string]string{"cf-aig-cache-ttl": "60"}, ttl: time.Minute},
		{name: "deprecated ttl header", hdr: map[string]string{"cf-cache-ttl": "120"}, ttl: 2 * time.Minute},
		{name: "ttl under a minute", hdr: map[string]string{"cf-aig-cache-ttl": "59"}, err: "from 60 to 2592000"},
		{name: "ttl over a month", hdr: map[string]string{"cf-aig-cache-ttl": "2592001"}, err: "cf-aig-cache-ttl"},
		{name: "ttl not a number", hdr: map[string]string{"cf-aig-cache-ttl": "1h"}, err: "whole number"},
		{name: "a month exactly", hdr: map[string]string{"cf-aig-cache-ttl": "2592000"}, ttl: 30 * 24 * time.Hour},
		{name: "skip", gateway: i(300), hdr: map[string]string{"cf-aig-skip-cache": "true"}, ttl: 300 * time.Second, skip: true},
		{name: "deprecated skip", gateway: i(300), hdr: map[string]string{"cf-skip-cache": "1"}, ttl: 300 * time.Second, skip: true},
		{name: "skip not a bool", gateway: i(300), hdr: map[string]string{"cf-aig-skip-cache": "yes please"}, err: "true or false"},
		{name: "custom key, caching off: five minutes", hdr: map[string]string{"cf-aig-cache-key": "responseA"}, ttl: 5 * time.Minute, key: "responseA"},
		{name: "custom key with gateway ttl", gateway: i(900), hdr: map[string]string{"cf-aig-cache-key": "k"}, ttl: 15 * time.Minute, key: "k"},
		{name: "custom key with header ttl", hdr: map[string]string{"cf-aig-cache-key": "k", "cf-aig-cache-ttl": "600"}, ttl: 10 * time.Minute, key: "k"},
		{name: "ttl 0 turns a gateway's caching off", gateway: i(300), hdr: map[string]string{"cf-aig-cache-ttl": "0"}, off: true},
		{name: "ttl 0 beats a custom key's five minutes", hdr: map[string]string{"cf-aig-cache-key": "k", "cf-aig-cache-ttl": "0"}, off: true},
		{name: "negative ttl", hdr: map[string]string{"cf-aig-cache-ttl": "-1"}, err: "0 (no caching)"},
		{name: "custom key too long", hdr: map[string]string{"cf-aig-cache-key": strings.Repeat("k", 1025)}, err: "longer than 1024"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p, err := ReadPolicy(func(n string) string { return c.hdr[n] }, c.gateway)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("err = %v, want one containing %q", err, c.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if c.off {
				if p != nil {
					t.Fatalf("policy = %+v, want no caching", p)
				}
				return
			}
			if p == nil || p.TTL != c.ttl || p.Skip != c.skip || p.Key != c.key {
				t.Fatalf("policy = %+v, want ttl %v skip %v key %q", p, c.ttl, c.skip, c.key)
			}
		})
	}
}

func TestKey(t *testing.T) {
	p := &Policy{TTL: time.Minute}
	base := KeyInput{AccountID: "a", GatewayID: "g", Provider: "openai", Method: "POST", Path: "/chat/completions",
		Body: []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}]}`)}
	k0 := Key(p, base)
	with := func(f func(*KeyInput)) string { in := base; f(&in); return Key(p, in) }
	same := []struct {
		name string
		key  string
	}{
		{"keys reordered and spaced", with(func(in *KeyInput) {
			in.Body = []byte(`{ "messages": [ {"content":"hi","role":"user"} ], "model": "gpt-4o-mini" }`)
		})},
		{"credentials differ", with(func(in *KeyInput) {
			in.Header = func(n string) string {
				if n == "authorization" {
					return "Bearer other"
				}
				return ""
			}
		})},
	}
	for _, c := range same {
		if c.key != k0 {
			t.Errorf("%s: key changed", c.name)
		}
	}
	differ := []struct {
		name string
		key  string
	}{
		{"another gateway", with(func(in *KeyInput) { in.GatewayID = "h" })},
		{"another provider", with(func(in *KeyInput) { in.Provider = "groq" })},
		{"another path", with(func(in *KeyInput) { in.Path = "/embeddings" })},
		{"another query", with(func(in *KeyInput) { in.Query = "api-version=1" })},
		{"another prompt", with(func(in *KeyInput) {
			in.Body = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi!"}]}`)
		})},
		{"a number written differently", with(func(in *KeyInput) {
			in.Body = []byte(`{"model":"gpt-4o-mini","messages":[{"role":"user","content":"hi"}],"temperature":1.0}`)
		})},
		{"anthropic-version", with(func(in *KeyInput) {
			in.Header = func(n string) string {
				if n == "anthropic-version" {
					return "2023-06-01"
				}
				return ""
			}
		})},
		{"settings generation", Key(&Policy{TTL: time.Minute, Gen: "x"}, base)},
	}
	for _, c := range differ {
		if c.key == k0 {
			t.Errorf("%s: key did not change", c.name)
		}
	}
	if !strings.HasPrefix(k0, Prefix("a", "g")) {
		t.Errorf("key %q lacks the gateway prefix", k0)
	}
	custom := &Policy{TTL: time.Minute, Key: "responseA"}
	if Key(custom, base) != with(func(in *KeyInput) { in.Body = []byte("other") }) && Key(custom, base) != Key(custom, KeyInput{AccountID: "a", GatewayID: "g", Body: []byte("x")}) {
		t.Error("a custom key must ignore the request")
	}
	if Key(custom, base) == Key(custom, KeyInput{AccountID: "a", GatewayID: "other"}) {
		t.Error("a custom key must stay within its gateway")
	}
}

func TestCanonicalKeepsNonJSON(t *testing.T) {
	for _, b := range []string{"", "plain text", `{"broken":`, `{"a":1} {"b":2}`} {
		if got := string(Canonical([]byte(b))); got != b {
			t.Errorf("Canonical(%q) = %q, want it unchanged", b, got)
		}
	}
	if got := string(Canonical([]byte(`{"b":1.50,"a":[true,null]}`))); got != `{"a":[true,null],"b":1.50}` {
		t.Errorf("Canonical = %s", got)
	}
}

func TestEntryRoundTrip(t *testing.T) {
	e := &Entry{Status: 200, ContentType: "text/event-stream", Stream: true, Header: [][2]string{{"x-request-id", "1"}},
		TokensIn: 3, TokensOut: 5, Body: []byte("data: {\"a\":1}\n\ndata: [DONE]\n\n"), StoredAt: time.Unix(1, 0).UTC()}
	b, err := e.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if string(got.Body) != string(e.Body) || got.Status != 200 || !got.Stream || got.TokensOut != 5 || got.Header[0][1] != "1" {
		t.Fatalf("round trip = %+v", got)
	}
	for _, bad := range [][]byte{nil, {0xff}, {5, '{'}} {
		if _, err := Decode(bad); err == nil {
			t.Errorf("Decode(%v) should fail", bad)
		}
	}
}

func TestFlightsOneLeader(t *testing.T) {
	var f Flights
	leader, _, done := f.Join("k")
	if !leader {
		t.Fatal("first caller must lead")
	}
	var wg sync.WaitGroup
	released := make(chan struct{})
	for i := 0; i < 10; i++ {
		l, wait, _ := f.Join("k")
		if l {
			t.Fatal("a second caller led")
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-wait
			select {
			case <-released:
			default:
				t.Error("a follower woke before the leader finished")
			}
		}()
	}
	if l, _, d := f.Join("other"); !l {
		t.Error("another key must have its own leader")
	} else {
		d()
	}
	close(released)
	done()
	done() // twice is harmless
	wg.Wait()
	if l, _, d := f.Join("k"); !l {
		t.Error("after the flight, the next caller leads again")
	} else {
		d()
	}
}
