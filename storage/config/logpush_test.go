// logpush_test.go: a gateway's logpush_public_key must be a PEM RSA public key of at least
// 2048 bits; a bad one is refused with the field named, and logpush is no longer said to be
// inactive.
package config_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	json "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/events"
	"github.com/switchyard/switchyard/storage/config"
	"github.com/switchyard/switchyard/storage/config/configtest"
)

func TestLogpushPublicKey(t *testing.T) {
	svc, _ := configtest.New()
	ctx := context.Background()
	actor := events.Actor{ID: "t", Type: "system"}
	pemOf := func(bits int, typ string, pkcs1 bool) string {
		k, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		der, _ := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if pkcs1 {
			der = x509.MarshalPKCS1PublicKey(&k.PublicKey)
		}
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	good, goodPKCS1 := pemOf(2048, "PUBLIC KEY", false), pemOf(2048, "RSA PUBLIC KEY", true)
	for i, c := range []struct {
		key string
		ok  bool
	}{
		{good, true}, {goodPKCS1, true}, {"", true},
		{"xxxxxxxxxxxxxxxx", false}, {pemOf(1024, "PUBLIC KEY", false), false},
		{strings.Replace(good, "PUBLIC KEY", "CERTIFICATE", 2), false},
	} {
		q, _ := json.Marshal(c.key)
		g, err := svc.CreateGateway(ctx, actor, "a", []byte(`{"id":"g`+string(rune('a'+i))+`","logpush":true,"logpush_public_key":`+string(q)+`}`))
		var ce *config.Error
		switch {
		case c.ok && err != nil:
			t.Errorf("case %d refused: %v", i, err)
		case !c.ok && (!errors.As(err, &ce) || !strings.Contains(err.Error(), "logpush_public_key")):
			t.Errorf("case %d: want a 400 naming logpush_public_key, got %v", i, err)
		case c.ok:
			for _, in := range g.InactiveSettings() {
				if in.Setting == "logpush" {
					t.Errorf("logpush still said inactive: %v", in)
				}
			}
		}
	}
	keys := svc.Projection().Current().LogpushKeys()
	if len(keys) != 2 || keys["a/ga"] == nil || keys["a/gb"] == nil {
		t.Fatalf("keys %v", keys)
	}
}
