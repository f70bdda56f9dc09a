// sink.go: where the batches go, configured on the node: a directory (each file written
// to a temporary name, synced, then renamed), an HTTP endpoint (one POST per file) or an
// S3-compatible bucket (one PutObject per file, aws-sdk-go-v2). A Put that fails is tried
// again by the exporter; a Put that succeeded is durable at the sink.
package logpush

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Sink stores a batch file under a name (slash-separated: acct/gw/date/file.log.gz).
type Sink interface {
	Put(ctx context.Context, name string, body []byte) error
	String() string
}

// DirSink writes files under a directory.
type DirSink struct{ Dir string }

func (d DirSink) String() string { return "dir " + d.Dir }

// Put writes the file atomically: a temporary file in the target folder, synced, renamed.
func (d DirSink) Put(_ context.Context, name string, body []byte) error {
	dst := filepath.Join(d.Dir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return err
	}
	if dir, err := os.Open(filepath.Dir(dst)); err == nil { // the rename itself
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}

// HTTPSink POSTs each file to a URL: Content-Type application/x-ndjson, Content-Encoding
// gzip, the file's name in X-Logpush-Name. Any 2xx is success.
type HTTPSink struct {
	URL           string
	Authorization string // sent as the Authorization header when set
	Client        *http.Client
}

func (h HTTPSink) String() string {
	u, err := url.Parse(h.URL)
	if err != nil {
		return "http"
	}
	u.RawQuery, u.User = "", nil // may hold a token
	return "http " + u.String()
}

// StatusError is an answer other than 2xx.
type StatusError struct {
	Status     int
	RetryAfter time.Duration
}

func (e *StatusError) Error() string { return "status " + strconv.Itoa(e.Status) }

func (h HTTPSink) Put(ctx context.Context, name string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-ndjson")
	req.Header.Set("Content-Encoding", "gzip")
	req.Header.Set("X-Logpush-Name", name)
	req.Header.Set("User-Agent", "switchyard-logpush")
	if h.Authorization != "" {
		req.Header.Set("Authorization", h.Authorization)
	}
	c := h.Client
	if c == nil {
		c = &http.Client{Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	e := &StatusError{Status: resp.StatusCode}
	if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
		e.RetryAfter = time.Duration(s) * time.Second
	}
	return e
}

// S3Sink puts each file as an object of a bucket, under a prefix.
type S3Sink struct {
	Client *s3.Client
	Bucket string
	Prefix string
}

func (s S3Sink) String() string { return "s3://" + path.Join(s.Bucket, s.Prefix) }

func (s S3Sink) Put(ctx context.Context, name string, body []byte) error {
	key := strings.TrimPrefix(path.Join(s.Prefix, name), "/")
	_, err := s.Client.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(s.Bucket), Key: aws.String(key),
		Body: bytes.NewReader(body), ContentLength: aws.Int64(int64(len(body))),
		ContentType: aws.String("application/x-ndjson"), ContentEncoding: aws.String("gzip")})
	return err
}

// S3Options are what NewS3Sink needs besides the s3:// URL.
type S3Options struct {
	Endpoint        string // an S3-compatible service's URL (MinIO, R2...); "" is AWS
	Region          string // "" is us-east-1
	AccessKeyID     string
	SecretAccessKey string
	SessionToken    string
	PathStyle       bool // bucket in the path, not the host name (set whenever Endpoint is)
	HTTPClient      *http.Client
}

// NewS3Sink reads s3://bucket/prefix.
func NewS3Sink(rawURL string, o S3Options) (*S3Sink, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "s3" || u.Host == "" {
		return nil, fmt.Errorf("logpush s3 %q: want s3://bucket/prefix", rawURL)
	}
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		return nil, errors.New("logpush s3: credentials missing (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)")
	}
	if o.Region == "" {
		o.Region = "us-east-1"
	}
	cfg := aws.Config{Region: o.Region,
		Credentials: aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
			return aws.Credentials{AccessKeyID: o.AccessKeyID, SecretAccessKey: o.SecretAccessKey,
				SessionToken: o.SessionToken, Source: "switchyard"}, nil
		})}
	if o.HTTPClient != nil {
		cfg.HTTPClient = o.HTTPClient
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
			so.UsePathStyle = true
		}
		if o.PathStyle {
			so.UsePathStyle = true
		}
	})
	return &S3Sink{Client: client, Bucket: u.Host, Prefix: strings.Trim(u.Path, "/")}, nil
}
