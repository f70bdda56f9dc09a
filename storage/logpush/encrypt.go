// encrypt.go is the reference's hybrid encryption of a log's parts (Workers Logpush, "How
// logs are encrypted"): a fresh AES-256-GCM key and 12-byte IV per value, the key wrapped
// with RSA-OAEP (SHA-256, MGF1 SHA-256) for the gateway's public key, each base64 (std)
// in {"key","iv","data"}; data is the ciphertext followed by the 16-byte GCM tag, which is
// what WebCrypto's AES-GCM decrypt in the reference's Node script expects.
package logpush

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
)

// Encrypted is one encrypted value as a record carries it.
type Encrypted struct {
	Key  string `json:"key"`
	IV   string `json:"iv"`
	Data string `json:"data"`
}

// Encrypt encrypts plain for pub with a key and IV of its own.
func Encrypt(pub *rsa.PublicKey, plain []byte) (Encrypted, error) {
	var key [32]byte
	var iv [12]byte
	if _, err := rand.Read(key[:]); err != nil {
		return Encrypted{}, err
	}
	if _, err := rand.Read(iv[:]); err != nil {
		return Encrypted{}, err
	}
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return Encrypted{}, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return Encrypted{}, err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, key[:], nil)
	if err != nil {
		return Encrypted{}, err
	}
	enc := base64.StdEncoding
	return Encrypted{Key: enc.EncodeToString(wrapped), IV: enc.EncodeToString(iv[:]),
		Data: enc.EncodeToString(gcm.Seal(nil, iv[:], plain, nil))}, nil
}

// Decrypt undoes Encrypt with the private key.
func Decrypt(priv *rsa.PrivateKey, e Encrypted) ([]byte, error) {
	dec := base64.StdEncoding
	wrapped, err := dec.DecodeString(e.Key)
	if err != nil {
		return nil, errors.New("key is not base64")
	}
	iv, err := dec.DecodeString(e.IV)
	if err != nil {
		return nil, errors.New("iv is not base64")
	}
	data, err := dec.DecodeString(e.Data)
	if err != nil {
		return nil, errors.New("data is not base64")
	}
	key, err := rsa.DecryptOAEP(sha256.New(), nil, priv, wrapped, nil)
	if err != nil {
		return nil, errors.New("the key does not open with this private key")
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(iv))
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, iv, data, nil)
	if err != nil {
		return nil, errors.New("data does not authenticate")
	}
	return plain, nil
}

// ParsePrivateKey reads a PEM RSA private key: PKCS #8 ("PRIVATE KEY", what the reference's
// Node and OpenSSL commands write) or PKCS #1 ("RSA PRIVATE KEY").
func ParsePrivateKey(s []byte) (*rsa.PrivateKey, error) {
	block, _ := pem.Decode([]byte(strings.TrimSpace(string(s))))
	if block == nil {
		return nil, errors.New("not a PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		if rk, ok := k.(*rsa.PrivateKey); ok {
			return rk, nil
		}
		return nil, errors.New("not an RSA key")
	}
	return nil, errors.New("a " + block.Type + " block, not a PRIVATE KEY")
}
