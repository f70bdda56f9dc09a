// pathological_test.go: inputs built to hit worst cases (long digit sequences, repeated
// prefixes, PEM headers without END lines) must stay linear.
package dlp

import (
	"bytes"
	"math/rand"
	"testing"
	"time"
)

func TestPathologicalInputs(t *testing.T) {
	s := allScanner(t)
	r := rand.New(rand.NewSource(1))
	gen := []func() []byte{
		func() []byte { return bytes.Repeat([]byte("1 "), 500000) },
		func() []byte { return bytes.Repeat([]byte("@"), 1000000) },
		func() []byte { return bytes.Repeat([]byte("a@"), 500000) },
		func() []byte { return bytes.Repeat([]byte("St "), 300000) },
		func() []byte { return bytes.Repeat([]byte("eyJ."), 250000) },
		func() []byte { return bytes.Repeat([]byte("-----BEGIN "), 90000) },
		func() []byte { return bytes.Repeat([]byte("-----BEGIN PRIVATE KEY-----"), 30000) },
		func() []byte { return bytes.Repeat([]byte("DE89 "), 200000) },
		func() []byte { return bytes.Repeat([]byte("routing 021000021 "), 50000) },
		func() []byte { return bytes.Repeat([]byte("1234567890 "), 90000) },
		func() []byte { b := make([]byte, 1<<20); r.Read(b); return b },
		func() []byte {
			b := make([]byte, 1<<20)
			for i := range b {
				b[i] = "0123456789 -.()+@aAxX/"[r.Intn(22)]
			}
			return b
		},
	}
	for i, g := range gen {
		in := g()
		st := time.Now()
		s.Redact(in)
		d := time.Since(st)
		if d > 3*time.Second {
			t.Errorf("%d: %d bytes took %v", i, len(in), d)
		}
		st = time.Now()
		Text(in, "application/json")
		Text(in, "text/event-stream")
		if d := time.Since(st); d > 3*time.Second {
			t.Errorf("%d: Text took %v", i, d)
		}
	}
}
