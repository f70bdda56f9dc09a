// seal.go encrypts stored provider keys at rest with AES-256-GCM under the master key
// (SWITCHYARD_MASTER_KEY, or a key file created 0600 in the data dir on first start).
package config

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strings"
)

// Sealer seals and opens secrets with the master key.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer builds a sealer from a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) != 32 {
		return nil, fmt.Errorf("master key must be 32 bytes, got %d", len(key))
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts clear, bound to aad (the account and reference, so a sealed value
// cannot be moved to another key). The output is nonce || ciphertext.
func (s *Sealer) Seal(clear, aad []byte) ([]byte, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return s.aead.Seal(nonce, nonce, clear, aad), nil
}

// Open decrypts what Seal produced.
func (s *Sealer) Open(sealed, aad []byte) ([]byte, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n+s.aead.Overhead() {
		return nil, errors.New("sealed value too short")
	}
	return s.aead.Open(nil, sealed[:n], sealed[n:], aad)
}

// ParseMasterKey reads a master key written as 64 hex digits or as base64 of 32 bytes.
func ParseMasterKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == 32 {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == 32 {
			return b, nil
		}
	}
	return nil, errors.New("master key must be 32 bytes written as 64 hex digits or base64")
}

// LoadMasterKey returns the master key from env (when set) or from the file at path,
// creating the file (mode 0600) with a random key when it does not exist. The second
// result says where the key came from.
func LoadMasterKey(env, path string) ([]byte, string, error) {
	if env != "" {
		k, err := ParseMasterKey(env)
		if err != nil {
			return nil, "", fmt.Errorf("SWITCHYARD_MASTER_KEY: %w", err)
		}
		return k, "$SWITCHYARD_MASTER_KEY", nil
	}
	if b, err := os.ReadFile(path); err == nil {
		k, err := ParseMasterKey(string(b))
		if err != nil {
			return nil, "", fmt.Errorf("%s: %w", path, err)
		}
		return k, path, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return nil, "", err
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return nil, "", err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, "", fmt.Errorf("create master key file: %w", err)
	}
	defer f.Close()
	if _, err := f.WriteString(hex.EncodeToString(k) + "\n"); err != nil {
		return nil, "", err
	}
	return k, path, nil
}

// KeyCheck is a value derived from the master key that says whether two nodes hold the same
// key without revealing it (HMAC-SHA256 of a fixed label), kept in the event log.
func KeyCheck(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("switchyard master key check v1"))
	return []byte(hex.EncodeToString(m.Sum(nil)))
}
