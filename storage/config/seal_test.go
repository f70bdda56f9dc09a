// seal_test.go: sealing stored keys with the master key, and loading that key.
package config_test

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/switchyard/switchyard/storage/config"
)

func testKey(b byte) []byte {
	k := make([]byte, 32)
	for i := range k {
		k[i] = b + byte(i)
	}
	return k
}

func mustSealer(t *testing.T, key []byte) *config.Sealer {
	t.Helper()
	s, err := config.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestSealOpenRoundTrip(t *testing.T) {
	s := mustSealer(t, testKey(1))
	tests := []struct {
		name  string
		clear []byte
		aad   []byte
	}{
		{"api key", []byte("sk-live-0123456789abcdefghij"), []byte("acc1/ref.01")},
		{"empty value", []byte{}, []byte("acc1/ref")},
		{"no aad", []byte("secret"), nil},
		{"binary", []byte{0, 1, 2, 255, 254}, []byte("a/b")},
		{"8 KiB", bytes.Repeat([]byte("k"), 8<<10), []byte("acc/ref")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := s.Seal(tc.clear, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if len(tc.clear) >= 4 && bytes.Contains(sealed, tc.clear) {
				t.Error("sealed value holds the clear value")
			}
			if len(sealed) <= len(tc.clear) {
				t.Errorf("sealed length %d, clear %d", len(sealed), len(tc.clear))
			}
			got, err := s.Open(sealed, tc.aad)
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if !bytes.Equal(got, tc.clear) {
				t.Errorf("Open = %q, want %q", got, tc.clear)
			}
			// A second sealer with the same key opens it too (a restart).
			got, err = mustSealer(t, testKey(1)).Open(sealed, tc.aad)
			if err != nil || !bytes.Equal(got, tc.clear) {
				t.Errorf("Open with a new sealer = %q, %v", got, err)
			}
			// Sealing twice gives different bytes (fresh nonce).
			again, err := s.Seal(tc.clear, tc.aad)
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(again, sealed) {
				t.Error("two seals of the same value are identical")
			}
		})
	}
}

func TestOpenRefused(t *testing.T) {
	s := mustSealer(t, testKey(1))
	aad := []byte("acc1/ref.1")
	sealed, err := s.Seal([]byte("sk-secret-value"), aad)
	if err != nil {
		t.Fatal(err)
	}
	flipped := append([]byte(nil), sealed...)
	flipped[len(flipped)-1] ^= 1
	flippedNonce := append([]byte(nil), sealed...)
	flippedNonce[0] ^= 1
	tests := []struct {
		name   string
		sealer *config.Sealer
		sealed []byte
		aad    []byte
	}{
		{"another key", mustSealer(t, testKey(2)), sealed, aad},
		{"zero key", mustSealer(t, make([]byte, 32)), sealed, aad},
		{"another aad", s, sealed, []byte("acc2/ref.1")},
		{"another reference", s, sealed, []byte("acc1/ref.2")},
		{"no aad", s, sealed, nil},
		{"tampered ciphertext", s, flipped, aad},
		{"tampered nonce", s, flippedNonce, aad},
		{"truncated", s, sealed[:len(sealed)-1], aad},
		{"too short", s, sealed[:10], aad},
		{"empty", s, nil, aad},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.sealer.Open(tc.sealed, tc.aad)
			if err == nil {
				t.Errorf("Open succeeded: %q", got)
			}
		})
	}
}

func TestNewSealerKeyLength(t *testing.T) {
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := config.NewSealer(make([]byte, n)); err == nil {
			t.Errorf("NewSealer accepted a %d-byte key", n)
		}
	}
	if _, err := config.NewSealer(make([]byte, 32)); err != nil {
		t.Errorf("NewSealer refused a 32-byte key: %v", err)
	}
}

func TestParseMasterKey(t *testing.T) {
	key := testKey(0xf0) // bytes that give '+', '/', '-' and '_' in base64 variants
	key31 := key[:31]
	key33 := append(append([]byte(nil), key...), 7)
	tests := []struct {
		name string
		in   string
		want []byte // nil: refused
	}{
		{"hex lower", hex.EncodeToString(key), key},
		{"hex upper", strings.ToUpper(hex.EncodeToString(key)), key},
		{"hex with newline", hex.EncodeToString(key) + "\n", key},
		{"hex with spaces", "  " + hex.EncodeToString(key) + " \t", key},
		{"base64 std", base64.StdEncoding.EncodeToString(key), key},
		{"base64 raw std", base64.RawStdEncoding.EncodeToString(key), key},
		{"base64 url", base64.URLEncoding.EncodeToString(key), key},
		{"base64 raw url", base64.RawURLEncoding.EncodeToString(key), key},
		{"base64 with newline", base64.StdEncoding.EncodeToString(key) + "\n", key},
		{"zero key hex", strings.Repeat("0", 64), make([]byte, 32)},
		{"hex 31 bytes", hex.EncodeToString(key31), nil},
		{"base64 31 bytes", base64.StdEncoding.EncodeToString(key31), nil},
		{"hex 33 bytes", hex.EncodeToString(key33), nil},
		{"base64 33 bytes", base64.StdEncoding.EncodeToString(key33), nil},
		{"63 hex digits", hex.EncodeToString(key)[:63], nil},
		{"not hex nor base64", strings.Repeat("z", 63) + "!", nil},
		{"empty", "", nil},
		{"passphrase", "correct horse battery staple", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := config.ParseMasterKey(tc.in)
			if tc.want == nil {
				if err == nil {
					t.Errorf("accepted %q as %x", tc.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("refused %q: %v", tc.in, err)
			}
			if !bytes.Equal(got, tc.want) {
				t.Errorf("= %x, want %x", got, tc.want)
			}
		})
	}
}

func TestLoadMasterKeyEnvWins(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	fileKey, envKey := testKey(1), testKey(2)
	if err := os.WriteFile(path, []byte(hex.EncodeToString(fileKey)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  string
	}{
		{"hex", hex.EncodeToString(envKey)},
		{"base64", base64.StdEncoding.EncodeToString(envKey)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, src, err := config.LoadMasterKey(tc.env, path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(k, envKey) {
				t.Errorf("key = %x, want the env key", k)
			}
			if src != "$SWITCHYARD_MASTER_KEY" {
				t.Errorf("source = %q", src)
			}
		})
	}
	// With env set, no file is created.
	missing := filepath.Join(dir, "none.key")
	if _, _, err := config.LoadMasterKey(hex.EncodeToString(envKey), missing); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(missing); !os.IsNotExist(err) {
		t.Errorf("a key file was created although env is set: %v", err)
	}
	// A bad env key is an error even when the file holds a good one.
	if _, _, err := config.LoadMasterKey("short", path); err == nil || !strings.Contains(err.Error(), "SWITCHYARD_MASTER_KEY") {
		t.Errorf("bad env key: err = %v", err)
	}
}

func TestLoadMasterKeyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "master.key")
	k1, src, err := config.LoadMasterKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != 32 || bytes.Equal(k1, make([]byte, 32)) {
		t.Errorf("created key = %x", k1)
	}
	if src != path {
		t.Errorf("source = %q, want %q", src, path)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("key file not created: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode = %o, want 600", fi.Mode().Perm())
	}
	content, _ := os.ReadFile(path)
	if fromFile, err := config.ParseMasterKey(string(content)); err != nil || !bytes.Equal(fromFile, k1) {
		t.Errorf("file holds %q, want the returned key", content)
	}

	k2, src2, err := config.LoadMasterKey("", path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(k1, k2) || src2 != path {
		t.Errorf("second call: key %x source %q, want %x %q", k2, src2, k1, path)
	}
	again, _ := os.ReadFile(path)
	if !bytes.Equal(again, content) {
		t.Error("second call rewrote the key file")
	}
	// A value sealed under the first key opens under the reloaded one.
	sealed, err := mustSealer(t, k1).Seal([]byte("v"), []byte("a"))
	if err != nil {
		t.Fatal(err)
	}
	if got, err := mustSealer(t, k2).Open(sealed, []byte("a")); err != nil || string(got) != "v" {
		t.Errorf("Open after reload = %q, %v", got, err)
	}

	// Another data dir gets another key.
	k3, _, err := config.LoadMasterKey("", filepath.Join(t.TempDir(), "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k3, k1) {
		t.Error("two created keys are equal")
	}
}

func TestLoadMasterKeyFileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.key")
	if err := os.WriteFile(bad, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	base64File := filepath.Join(dir, "b64.key")
	key := testKey(9)
	if err := os.WriteFile(base64File, []byte(base64.StdEncoding.EncodeToString(key)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		want    []byte
		wantErr bool
	}{
		{"garbage file", bad, nil, true},
		{"missing directory", filepath.Join(dir, "no", "such", "dir", "master.key"), nil, true},
		{"base64 file", base64File, key, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, _, err := config.LoadMasterKey("", tc.path)
			if tc.wantErr {
				if err == nil {
					t.Errorf("no error, key %x", k)
				}
				return
			}
			if err != nil || !bytes.Equal(k, tc.want) {
				t.Errorf("key %x err %v", k, err)
			}
		})
	}
	// The garbage file is left as it was.
	if b, _ := os.ReadFile(bad); string(b) != "not a key\n" {
		t.Errorf("garbage key file rewritten: %q", b)
	}
}
