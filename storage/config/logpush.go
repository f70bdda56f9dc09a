// logpush.go reads a gateway's logpush_public_key: the PEM RSA public key its exported logs
// are encrypted for (storage/logpush). A key that is set must parse, as an RSA key of at
// least 2048 bits, or the gateway write is refused with the field named.
package config

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
)

// MinLogpushKeyBits is the smallest RSA key accepted.
const MinLogpushKeyBits = 2048

// ParseLogpushKey reads a PEM RSA public key: SubjectPublicKeyInfo ("PUBLIC KEY", what the
// reference's Node and OpenSSL commands write) or PKCS #1 ("RSA PUBLIC KEY").
func ParseLogpushKey(s string) (*rsa.PublicKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(s)))
	if block == nil {
		return nil, errors.New("not a PEM block")
	}
	var pub any
	var err error
	switch block.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(block.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(block.Bytes)
	default:
		return nil, errors.New("a " + block.Type + " block, not a PUBLIC KEY")
	}
	if err != nil {
		return nil, err
	}
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("not an RSA key")
	}
	if k.N.BitLen() < MinLogpushKeyBits {
		return nil, errors.New("an RSA key under 2048 bits")
	}
	return k, nil
}

func logpushKeyError(key *string) *Error {
	if key == nil || strings.TrimSpace(*key) == "" {
		return nil
	}
	if _, err := ParseLogpushKey(*key); err != nil {
		return invalid("logpush_public_key must be a PEM RSA public key of at least 2048 bits (-----BEGIN PUBLIC KEY-----): "+err.Error(),
			"body", "logpush_public_key")
	}
	return nil
}

// LogpushKeys are the public keys of the gateways that export their logs (logpush on,
// collect_logs on, a key set), by "acct/gw".
func (s *Snapshot) LogpushKeys() map[string]*rsa.PublicKey {
	out := map[string]*rsa.PublicKey{}
	for key, g := range s.gateways {
		if !g.Logpush || !g.CollectLogs || g.LogpushPublicKey == nil || *g.LogpushPublicKey == "" {
			continue
		}
		if k, err := ParseLogpushKey(*g.LogpushPublicKey); err == nil {
			out[key] = k
		}
	}
	return out
}
