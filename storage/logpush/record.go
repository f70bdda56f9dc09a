// record.go is the format of what Logpush writes: one JSON object per log, newline
// delimited, gzipped, one file (object, POST) per gateway and batch. Field names follow the
// reference's decryption script for the encrypted parts (Metadata, RequestBody,
// ResponseBody, each {key, iv, data}) and the PascalCase of Cloudflare's Logpush datasets for
// the rest, which the reference does not list: they are the log's own fields (see Record).
package logpush

import (
	"bytes"
	"compress/gzip"
	"crypto/rsa"
	"time"

	json "github.com/goccy/go-json"

	"github.com/switchyard/switchyard/events"
)

// MaxBody is the most of a body a record carries (the reference: 1 MB per log); a longer
// body is cut and its *Truncated field set.
const MaxBody = 1 << 20

// Record is one exported log. Metadata, RequestBody and ResponseBody are encrypted:
// Metadata is the JSON object of the request's cf-aig-metadata ({} when none), the bodies
// are the recorded request and response bodies ("" when not recorded).
type Record struct {
	ID                    string    `json:"ID"`
	Timestamp             time.Time `json:"Timestamp"`
	AccountID             string    `json:"AccountID"`
	Gateway               string    `json:"Gateway"`
	Provider              string    `json:"Provider"`
	Model                 string    `json:"Model"`
	Method                string    `json:"Method"`
	Endpoint              string    `json:"Endpoint"`
	RequestType           string    `json:"RequestType,omitempty"`
	StatusCode            int       `json:"StatusCode"`
	Success               bool      `json:"Success"`
	Cached                bool      `json:"Cached"`
	Stream                bool      `json:"Stream"`
	Step                  int       `json:"Step"`
	DurationMs            float64   `json:"DurationMs"`
	TokensIn              int64     `json:"TokensIn"`
	TokensOut             int64     `json:"TokensOut"`
	Cost                  *float64  `json:"Cost,omitempty"`
	ErrorCode             int       `json:"ErrorCode,omitempty"`
	RequestBodyTruncated  bool      `json:"RequestBodyTruncated,omitempty"`
	ResponseBodyTruncated bool      `json:"ResponseBodyTruncated,omitempty"`
	Metadata              Encrypted `json:"Metadata"`
	RequestBody           Encrypted `json:"RequestBody"`
	ResponseBody          Encrypted `json:"ResponseBody"`
}

// Bodies are a log's recorded bodies and whether they were cut when recorded.
type Bodies struct {
	Request, Response                   []byte
	RequestTruncated, ResponseTruncated bool
}

// NewRecord builds the record of a finished request, its parts encrypted for pub.
func NewRecord(f *events.RequestFinished, b Bodies, pub *rsa.PublicKey) (*Record, error) {
	r := &Record{ID: f.LogID, Timestamp: f.StartedAt.UTC(), AccountID: f.AccountID, Gateway: f.GatewayID,
		Provider: f.Provider, Model: f.Model, Method: f.Method, Endpoint: f.Path, RequestType: f.RequestType,
		StatusCode: f.Status, Success: f.Success, Cached: f.Cached, Stream: f.Stream, Step: f.Step,
		DurationMs: f.DurationMs, TokensIn: f.TokensIn, TokensOut: f.TokensOut, Cost: f.Cost, ErrorCode: f.ErrorCode,
		RequestBodyTruncated: b.RequestTruncated, ResponseBodyTruncated: b.ResponseTruncated}
	if len(b.Request) > MaxBody {
		b.Request, r.RequestBodyTruncated = b.Request[:MaxBody], true
	}
	if len(b.Response) > MaxBody {
		b.Response, r.ResponseBodyTruncated = b.Response[:MaxBody], true
	}
	meta := []byte("{}")
	if len(f.Metadata) > 0 {
		m, err := json.Marshal(f.Metadata)
		if err != nil {
			return nil, err
		}
		meta = m
	}
	var err error
	if r.Metadata, err = Encrypt(pub, meta); err != nil {
		return nil, err
	}
	if r.RequestBody, err = Encrypt(pub, b.Request); err != nil {
		return nil, err
	}
	if r.ResponseBody, err = Encrypt(pub, b.Response); err != nil {
		return nil, err
	}
	return r, nil
}

// Batch gathers records as gzipped newline-delimited JSON.
type Batch struct {
	buf   bytes.Buffer
	zw    *gzip.Writer
	n     int
	plain int
}

// Add appends a record.
func (b *Batch) Add(r *Record) error {
	line, err := json.Marshal(r)
	if err != nil {
		return err
	}
	if b.zw == nil {
		b.zw = gzip.NewWriter(&b.buf)
	}
	b.n++
	b.plain += len(line) + 1
	if _, err := b.zw.Write(append(line, '\n')); err != nil {
		return err
	}
	return nil
}

// Len is the number of records; Size the bytes before compression.
func (b *Batch) Len() int  { return b.n }
func (b *Batch) Size() int { return b.plain }

// Bytes closes the batch and answers the gzipped file.
func (b *Batch) Bytes() ([]byte, error) {
	if b.zw == nil {
		b.zw = gzip.NewWriter(&b.buf)
	}
	if err := b.zw.Close(); err != nil {
		return nil, err
	}
	return b.buf.Bytes(), nil
}
