// guard.go applies a gateway's guardrails: a guard model (Llama Guard 3 on Workers AI by
// default, or any OpenAI-compatible endpoint) judges the prompt before anything is sent
// upstream (CheckPrompt) and the answer before the client gets it (CheckResponse; a
// streamed answer is released in checked segments by RelayGuarded). Each side maps hazard
// categories to FLAG (recorded) or BLOCK (2016 for the prompt, 2017 for the answer). Long
// text is judged in chunks, in parallel with a bound. A guard model that cannot answer fails
// the side closed when it has a BLOCK category and open when it only flags.
package engine

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	json "github.com/goccy/go-json"
	"github.com/switchyard/switchyard/engine/dlp"
	"github.com/switchyard/switchyard/engine/providers"
	"github.com/switchyard/switchyard/events"
	"github.com/tidwall/gjson"
	"github.com/valyala/fasthttp"
)

// Guardrails actions.
const (
	GuardFlag  = "FLAG"
	GuardBlock = "BLOCK"
)

// The reference's messages for a blocked prompt and a blocked answer.
const (
	guardPromptBlocked = "Prompt blocked due to security configurations"
	guardAnswerBlocked = "Response blocked due to security configurations"
)

const (
	// GuardChunk is the most text (bytes) judged in one guard call; longer text is split
	// on whitespace.
	GuardChunk = 4000
	// GuardParallel bounds the guard calls of one evaluation in flight at once.
	GuardParallel = 4
	// GuardMaxChunks bounds the chunks of one evaluation: text longer than this many chunks
	// is not judged and counts as the guard model being unavailable.
	GuardMaxChunks = 64
	// GuardSegment is how much answer text (bytes) a streamed answer accumulates before the
	// segment is judged and released.
	GuardSegment = 1000
	// guardContext is how much of the prompt (its end) goes with an answer being judged, and
	// how much of the answer already released goes with a segment.
	guardContext = 2000
	// guardMaxAnswer bounds the guard model's answer read.
	guardMaxAnswer = 1 << 20
)

// GuardCheck is a gateway's guardrails compiled: per side, the categories acted on and
// how, and the guard model's name for the records. It is immutable and safe for concurrent
// use.
type GuardCheck struct {
	Prompt, Response           map[string]string // category → FLAG | BLOCK
	promptBlock, responseBlock bool              // some category of that side is BLOCK
	Model                      string            // provider/model, for the records
}

// NewGuardCheck compiles a gateway's guardrails; model names the guard model in records.
func NewGuardCheck(prompt, response map[string]string, model string) *GuardCheck {
	c := &GuardCheck{Prompt: prompt, Response: response, Model: model}
	for _, a := range prompt {
		c.promptBlock = c.promptBlock || a == GuardBlock
	}
	for _, a := range response {
		c.responseBlock = c.responseBlock || a == GuardBlock
	}
	return c
}

// GuardMessage is one turn of the conversation the guard model judges.
type GuardMessage struct {
	Role    string `json:"role"`
	Content string `json:"content"`
}

// GuardVerdict is the guard model's judgement: safe, or unsafe with the categories found.
type GuardVerdict struct {
	Safe       bool
	Categories []string
}

// GuardJudge calls a guard model.
type GuardJudge interface {
	Judge(msgs []GuardMessage) (GuardVerdict, error)
}

// Guard is one request's guardrails: the gateway's compiled settings and the guard model
// to call. It keeps the end of the prompt to judge the answer with.
type Guard struct {
	*GuardCheck
	Judge      GuardJudge
	promptTail string
}

// CheckPrompt judges what the client sent (the text of the body: messages, prompt, input;
// not model names, roles or ids) before anything is sent. BLOCK fails the request with 2016.
// Every kind of request gets it (text generation, embeddings, unknown models alike).
func (g *Guard) CheckPrompt(req *Request) {
	if g == nil || req.Fail != nil {
		return
	}
	var text []byte
	if len(req.Body) > 0 {
		text = GuardText(req.Body, req.CType, true)
	}
	if len(g.Response) > 0 {
		g.promptTail = string(tail(text, guardContext))
	}
	if len(g.Prompt) == 0 {
		return
	}
	var c *events.GuardrailsCheck
	switch {
	case req.Body == nil && req.BodyStream != nil: // not read whole: cannot be judged
		c = g.unjudged(g.promptBlock, "the request body was not read whole")
	case len(bytes.TrimSpace(text)) == 0:
		return
	default:
		c = g.evaluate(g.Prompt, g.promptBlock, SplitGuardText(text, GuardChunk), func(chunk string) []GuardMessage {
			return []GuardMessage{{Role: "user", Content: chunk}}
		})
	}
	req.recordGuard(req.guardPrompt(), c)
	if c.Action == GuardBlock {
		req.Fail = Errorf(400, CodeGuardrailPrompt, guardPromptBlocked)
	}
}

// guardPrompt and guardResponse give the slot of a side in the request's result.
func (r *Request) guardPrompt() **events.GuardrailsCheck {
	if r.GuardResult == nil {
		r.GuardResult = &events.GuardrailsResult{}
	}
	return &r.GuardResult.Prompt
}

func (r *Request) guardResponse() **events.GuardrailsCheck {
	if r.GuardResult == nil {
		r.GuardResult = &events.GuardrailsResult{}
	}
	return &r.GuardResult.Response
}

// recordGuard sets a side's evaluation and the request's strongest action.
func (r *Request) recordGuard(slot **events.GuardrailsCheck, c *events.GuardrailsCheck) {
	*slot = c
	r.GuardResult.Action = strongerGuard(r.GuardResult.Action, c.Action)
}

func strongerGuard(a, b string) string {
	if a == GuardBlock || b == GuardBlock {
		return GuardBlock
	}
	if a == GuardFlag || b == GuardFlag {
		return GuardFlag
	}
	return ""
}

// answers reports whether the answer of x is to be judged: response categories are set,
// the request is a text-generation call (the reference's rule: embeddings and unknown
// models get their prompt checked only) and the answer is a success.
func (g *Guard) answers(x *Exchange) bool {
	return g != nil && len(g.Response) > 0 && x.Err == nil && x.Status >= 200 && x.Status < 300 &&
		x.Req.Fail == nil && TextGeneration(x.Req)
}

// CheckResponse judges a successful answer of a text-generation call before the client
// gets any of it. An event stream is left to RelayGuarded (released in checked segments); a
// large answer streamed without events is first read whole. BLOCK replaces the answer with
// 2017. It must be called after Dispatch and before the answer is written.
func (g *Guard) CheckResponse(x *Exchange) {
	if !g.answers(x) {
		return
	}
	if x.Streaming() {
		if isEventStream(x.RespCType) {
			return
		}
		if !readableAnswer(x.RespCType) {
			return // binary (audio, an AWS event stream): nothing to judge
		}
		x.buffer()
		if x.Err != nil {
			return
		}
	}
	text := GuardText(x.Body, x.RespCType, false)
	if len(bytes.TrimSpace(text)) == 0 {
		return
	}
	c := g.evaluate(g.Response, g.responseBlock, SplitGuardText(text, GuardChunk), g.answerMessages)
	x.Req.recordGuard(x.Req.guardResponse(), c)
	if c.Action == GuardBlock {
		x.Fail(Errorf(400, CodeGuardrailAnswer, guardAnswerBlocked))
	}
}

// answerMessages is the conversation judged for a piece of the answer: the end of the
// prompt, then the answer.
func (g *Guard) answerMessages(answer string) []GuardMessage {
	if g.promptTail == "" {
		return []GuardMessage{{Role: "user", Content: "(no text)"}, {Role: "assistant", Content: answer}}
	}
	return []GuardMessage{{Role: "user", Content: g.promptTail}, {Role: "assistant", Content: answer}}
}

// unjudged is the evaluation of text that could not be sent to the guard model.
func (g *Guard) unjudged(block bool, why string) *events.GuardrailsCheck {
	c := &events.GuardrailsCheck{Model: g.Model, Unavailable: true, Error: why}
	if block {
		c.Action = GuardBlock
	}
	return c
}

// evaluate judges chunks (in parallel, at most GuardParallel calls at once) and answers
// every category found, the action that applies and what it cost. A chunk the guard model
// could not judge makes the side unavailable: BLOCK when block (fail closed), otherwise the
// action of what the other chunks found (fail open).
func (g *Guard) evaluate(cats map[string]string, block bool, chunks []string, msgs func(string) []GuardMessage) *events.GuardrailsCheck {
	if len(chunks) > GuardMaxChunks {
		return g.unjudged(block, "the text is longer than "+strconv.Itoa(GuardMaxChunks)+" chunks of "+strconv.Itoa(GuardChunk)+" bytes and is not judged")
	}
	start := time.Now()
	verdicts := make([]GuardVerdict, len(chunks))
	errs := make([]error, len(chunks))
	if len(chunks) == 1 {
		verdicts[0], errs[0] = g.Judge.Judge(msgs(chunks[0]))
	} else {
		sem := make(chan struct{}, GuardParallel)
		var wg sync.WaitGroup
		for i, ch := range chunks {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				verdicts[i], errs[i] = g.Judge.Judge(msgs(ch))
				<-sem
			}()
		}
		wg.Wait()
	}
	c := &events.GuardrailsCheck{Model: g.Model, Calls: len(chunks)}
	found := map[string]bool{}
	for i := range chunks {
		if errs[i] != nil {
			if !c.Unavailable {
				c.Unavailable, c.Error = true, errs[i].Error()
			}
			continue
		}
		for _, cat := range verdicts[i].Categories {
			found[cat] = true
		}
	}
	for cat := range found {
		c.Categories = append(c.Categories, cat)
		c.Action = strongerGuard(c.Action, cats[cat])
	}
	sortCategories(c.Categories)
	if c.Unavailable && block {
		c.Action = GuardBlock
	}
	c.LatencyMs = Millis(time.Since(start))
	return c
}

// sortCategories orders S1…S14 by number, then P1…, then anything else by name.
func sortCategories(cs []string) {
	rank := func(c string) (int, int, string) {
		if len(c) > 1 {
			if n, err := strconv.Atoi(c[1:]); err == nil {
				switch c[0] {
				case 'S':
					return 0, n, c
				case 'P':
					return 1, n, c
				}
			}
		}
		return 2, 0, c
	}
	sort.Slice(cs, func(i, j int) bool {
		a1, a2, a3 := rank(cs[i])
		b1, b2, b3 := rank(cs[j])
		if a1 != b1 {
			return a1 < b1
		}
		if a2 != b2 {
			return a2 < b2
		}
		return a3 < b3
	})
}

// TextGeneration reports whether a request is a text-generation call, whose answer the
// guardrails judge: chat completions, completions, responses, messages, Gemini's
// generateContent, Bedrock's Converse, Cohere's chat, Workers AI text models, /compat, and
// a universal step to one of those (the step that answered). Embeddings and anything else
// are not.
func TextGeneration(req *Request) bool {
	t := &req.Target
	if t.Compat != nil {
		return true
	}
	rest := strings.ToLower(t.Rest)
	if i := strings.IndexByte(rest, '?'); i >= 0 {
		rest = rest[:i]
	}
	rest = strings.TrimRight(rest, "/")
	if strings.Contains(rest, "embed") || strings.Contains(rest, "rerank") {
		return false
	}
	for _, s := range []string{"/chat/completions", "/completions", "/responses", "/messages", "/chat", "/converse", "/converse-stream"} {
		if strings.HasSuffix(rest, s) {
			return true
		}
	}
	if strings.Contains(rest, ":generatecontent") || strings.Contains(rest, ":streamgeneratecontent") {
		return true
	}
	if t.Slug == "workers-ai" || (t.Provider != nil && t.Provider.Slug == "workers-ai") {
		model := strings.ToLower(t.Model)
		if strings.Contains(model, "bge-") || strings.Contains(model, "embed") || strings.Contains(rest, "bge-") {
			return false
		}
		body := t.Send
		if body == nil {
			body = req.Body
		}
		res := gjson.GetManyBytes(body, "messages", "prompt")
		return res[0].Exists() || res[1].Exists()
	}
	return false
}

func isEventStream(ctype string) bool {
	return strings.HasPrefix(strings.ToLower(strings.TrimSpace(ctype)), "text/event-stream")
}

// readableAnswer: a content type whose text the guardrails can read.
func readableAnswer(ctype string) bool {
	mt := strings.ToLower(strings.TrimSpace(ctype))
	return mt == "" || strings.Contains(mt, "json") || strings.HasPrefix(mt, "text/")
}

// --- the text judged ---

// guardSkipKeys are JSON keys whose values are not what a person wrote or a model
// answered: names, ids, roles, settings, credentials (a universal step's headers), media.
var guardSkipKeys = map[string]bool{
	"model": true, "role": true, "type": true, "id": true, "object": true, "finish_reason": true,
	"stop_reason": true, "stop_sequence": true, "index": true, "tool_call_id": true, "call_id": true,
	"system_fingerprint": true, "service_tier": true, "created": true, "usage": true, "logprobs": true,
	"headers": true, "provider": true, "endpoint": true, "response_format": true, "mime_type": true,
	"mimeType": true, "media_type": true, "url": true, "image_url": true, "inline_data": true, "inlineData": true,
	"input_audio": true, "file": true, "file_data": true, "fileData": true, "encoding_format": true,
	"user": true, "stop": true, "tool_choice": true, "reasoning_effort": true, "voice": true, "format": true,
	"signature": true, "cache_control": true, "metadata": true, "tools": true, "name": true, "status": true,
	"source": true, "stream_options": true, "modalities": true, "generationConfig": true,
	"generation_config": true, "safetySettings": true, "safety_settings": true, "seed": true,
	"modelVersion": true, "responseId": true, "finishReason": true, "usageMetadata": true,
}

// GuardText is the text the guard model judges in a body: for JSON, the string values that
// are text (messages, prompts, inputs, answers, tool arguments and results), not model names,
// roles, ids, settings or media, each followed by "\n"; for an event stream (or NDJSON), the
// text of each event concatenated (the deltas of an answer, in order); anything else as
// engine/dlp reads it (multipart text parts, plain text; nothing for binary). dedupe drops a
// string already seen (a universal request repeats its prompt in every step).
func GuardText(body []byte, ctype string, dedupe bool) []byte {
	if len(body) == 0 {
		return nil
	}
	mt := strings.ToLower(strings.TrimSpace(ctype))
	if i := strings.IndexByte(mt, ';'); i >= 0 {
		mt = strings.TrimSpace(mt[:i])
	}
	switch {
	case mt == "text/event-stream":
		var out []byte
		forEvents(body, func(ev []byte) { out = appendEventText(out, ev) })
		return out
	case mt == "application/x-ndjson" || mt == "application/jsonl":
		var out []byte
		for _, line := range bytes.Split(body, []byte("\n")) {
			out = appendJSONText(out, line, nil, false)
		}
		return out
	case mt == "" || mt == "application/json" || strings.HasSuffix(mt, "+json"):
		if b := bytes.TrimSpace(body); len(b) > 0 && (b[0] == '{' || b[0] == '[') && gjson.ValidBytes(b) {
			var seen map[string]bool
			if dedupe {
				seen = map[string]bool{}
			}
			return appendJSONText(nil, b, seen, true)
		}
	}
	return dlp.Text(body, ctype)
}

// appendJSONText appends the text values of a JSON document (nothing when it is not JSON).
func appendJSONText(out, doc []byte, seen map[string]bool, sep bool) []byte {
	doc = bytes.TrimSpace(doc)
	if len(doc) == 0 || !gjson.ValidBytes(doc) {
		return out
	}
	var walk func(v gjson.Result, depth int)
	walk = func(v gjson.Result, depth int) {
		if depth > 64 {
			return
		}
		switch {
		case v.IsObject():
			v.ForEach(func(k, val gjson.Result) bool {
				if !guardSkipKeys[k.Str] {
					walk(val, depth+1)
				}
				return true
			})
		case v.IsArray():
			v.ForEach(func(_, val gjson.Result) bool {
				walk(val, depth+1)
				return true
			})
		case v.Type == gjson.String:
			s := v.Str
			if s == "" || encodedData(s) || (seen != nil && seen[s]) {
				return
			}
			if seen != nil {
				seen[s] = true
			}
			out = append(out, s...)
			if sep {
				out = append(out, '\n')
			}
		}
	}
	walk(gjson.ParseBytes(doc), 0)
	return out
}

// encodedData: a data: URL or a long unbroken run (base64 media), never text to judge.
func encodedData(s string) bool {
	if strings.HasPrefix(s, "data:") && strings.Contains(s[:min(len(s), 128)], ";base64,") {
		return true
	}
	return len(s) >= dlp.MinBase64Run && strings.IndexAny(s, " \n\t") < 0
}

// forEvents calls f with each event of an event stream (blank-line separated).
func forEvents(body []byte, f func(ev []byte)) {
	for len(body) > 0 {
		n := eventEnd(body)
		if n < 0 {
			f(body)
			return
		}
		f(body[:n])
		body = body[n:]
	}
}

// eventEnd is the length of the first complete event in b (its blank line included), -1
// when b holds no complete event.
func eventEnd(b []byte) int {
	for i := 0; i+1 < len(b); i++ {
		if b[i] != '\n' {
			continue
		}
		switch {
		case b[i+1] == '\n':
			return i + 2
		case b[i+1] == '\r' && i+2 < len(b) && b[i+2] == '\n':
			return i + 3
		}
	}
	return -1
}

// summaryEvent: an OpenAI Responses event that repeats text already streamed, or the request
// (response.created, response.output_text.done, response.completed, …).
func summaryEvent(typ string) bool {
	for _, s := range []string{".done", ".completed", ".created", ".in_progress", ".failed", ".incomplete"} {
		if strings.HasSuffix(typ, s) {
			return true
		}
	}
	return false
}

// appendEventText appends the text of one server-sent event: the text values of its JSON
// data, or the data as is when it is not JSON; "[DONE]" and summary events add nothing.
func appendEventText(out, ev []byte) []byte {
	var data []byte
	for _, line := range bytes.Split(ev, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		if v, ok := bytes.CutPrefix(line, []byte("data:")); ok {
			if len(data) > 0 {
				data = append(data, '\n')
			}
			data = append(data, bytes.TrimPrefix(v, []byte(" "))...)
		}
	}
	d := bytes.TrimSpace(data)
	if len(d) == 0 || string(d) == "[DONE]" {
		return out
	}
	if (d[0] == '{' || d[0] == '[') && gjson.ValidBytes(d) {
		if summaryEvent(gjson.GetBytes(d, "type").String()) {
			return out
		}
		return appendJSONText(out, d, nil, false)
	}
	return append(out, d...)
}

// SplitGuardText splits text into chunks of at most max bytes, cutting at whitespace (at a
// character boundary when a run has none), each trimmed; blank text has no chunk.
func SplitGuardText(text []byte, max int) []string {
	var out []string
	s := bytes.TrimSpace(text)
	for len(s) > max {
		cut := max
		for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
			cut--
		}
		if i := bytes.LastIndexAny(s[max/2:cut], " \n\t\r"); i >= 0 {
			cut = max/2 + i
		}
		if cut == 0 {
			cut = max
		}
		if c := bytes.TrimSpace(s[:cut]); len(c) > 0 {
			out = append(out, string(c))
		}
		s = bytes.TrimSpace(s[cut:])
	}
	if len(s) > 0 {
		out = append(out, string(s))
	}
	return out
}

// tail is the last n bytes of text, starting at a character boundary.
func tail(text []byte, n int) []byte {
	text = bytes.TrimSpace(text)
	if len(text) <= n {
		return text
	}
	t := text[len(text)-n:]
	for len(t) > 0 && t[0]&0xC0 == 0x80 {
		t = t[1:]
	}
	return t
}

// --- the guard model's answer ---

// ParseGuardAnswer reads a guard model's answer: Workers AI's {"result":{"response":…}}
// where the response is Llama Guard's text ("safe", or "unsafe" and a line of categories
// such as "S1,S10") or an object {"safe":bool,"categories":[…]}; an OpenAI-compatible
// chat completion whose message is Llama Guard's text; or a bare {"response":…}. Anything
// else is an error.
func ParseGuardAnswer(body []byte) (GuardVerdict, error) {
	if !gjson.ValidBytes(body) {
		return GuardVerdict{}, errors.New("the guard model's answer is not JSON")
	}
	doc := gjson.ParseBytes(body)
	for _, path := range []string{"result.response", "response", "choices.0.message.content", "result", "@this"} {
		v := doc.Get(path)
		switch {
		case v.Type == gjson.String && path != "@this" && path != "result":
			return ParseGuardText(v.Str)
		case v.IsObject() && v.Get("safe").Exists():
			return guardObject(v)
		}
	}
	return GuardVerdict{}, errors.New("the guard model's answer has no verdict (result.response, choices[0].message.content)")
}

func guardObject(v gjson.Result) (GuardVerdict, error) {
	safe := v.Get("safe")
	if safe.Type != gjson.True && safe.Type != gjson.False {
		return GuardVerdict{}, errors.New("the guard model's verdict has a non-boolean safe")
	}
	if safe.Bool() {
		return GuardVerdict{Safe: true}, nil
	}
	var out GuardVerdict
	cats := v.Get("categories")
	if cats.Exists() && !cats.IsArray() {
		return GuardVerdict{}, errors.New("the guard model's verdict has categories that are not a list")
	}
	for _, c := range cats.Array() {
		code, ok := guardCategory(c.String())
		if !ok {
			return GuardVerdict{}, fmt.Errorf("the guard model's verdict names an unknown category %q", clip(c.String(), 40))
		}
		out.Categories = append(out.Categories, code)
	}
	return out, nil
}

// ParseGuardText reads Llama Guard's text: "safe", or "unsafe" followed (on the same or the
// next lines) by categories separated by commas or spaces.
func ParseGuardText(s string) (GuardVerdict, error) {
	s = strings.TrimSpace(s)
	first, rest, _ := strings.Cut(s, "\n")
	word := strings.ToLower(strings.TrimSpace(first))
	switch {
	case word == "safe":
		return GuardVerdict{Safe: true}, nil
	case strings.HasPrefix(word, "unsafe"):
		rest = strings.TrimSpace(first)[len("unsafe"):] + "\n" + rest
	default:
		return GuardVerdict{}, fmt.Errorf("the guard model answered %q, not safe or unsafe", clip(s, 60))
	}
	v := GuardVerdict{}
	seen := map[string]bool{}
	for _, f := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == ' ' || r == '\n' || r == '\t' || r == '\r' || r == ';' }) {
		code, ok := guardCategory(f)
		if !ok {
			return GuardVerdict{}, fmt.Errorf("the guard model answered an unknown category %q", clip(f, 40))
		}
		if !seen[code] {
			seen[code] = true
			v.Categories = append(v.Categories, code)
		}
	}
	return v, nil
}

// guardCategory reads a category code: S1…S99 or P1…P99, in any case, with a trailing
// colon or period ("S1:" as some guard models write it).
func guardCategory(s string) (string, bool) {
	s = strings.ToUpper(strings.TrimRight(strings.TrimSpace(s), ":."))
	if len(s) < 2 || len(s) > 3 || (s[0] != 'S' && s[0] != 'P') {
		return "", false
	}
	n, err := strconv.Atoi(s[1:])
	if err != nil || n < 1 || s[1] == '0' {
		return "", false
	}
	return s, true
}

func clip(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

// --- the guard model call ---

// GuardModel calls a guard model through a provider adapter: Workers AI's run endpoint
// ({base}/run/{model}, body {"messages":[…]}) for workers-ai, and chat/completions with
// {"model","messages"} for every other provider (an OpenAI-compatible endpoint, a custom
// provider). Credential is the gateway's stored key for the provider (nil: none).
type GuardModel struct {
	Client     *fasthttp.Client
	Provider   *providers.Resolved
	Account    string
	Model      string
	Credential *Header
	Timeout    time.Duration
}

// Judge makes one guard call, bounded by the timeout.
func (m *GuardModel) Judge(msgs []GuardMessage) (GuardVerdict, error) {
	if m.Provider == nil {
		return GuardVerdict{}, errors.New("the guard model's provider is not available")
	}
	workers := m.Provider.Slug == "workers-ai"
	rest, payload := "/chat/completions", map[string]any{"model": m.Model, "messages": msgs}
	if workers {
		rest, payload = "/"+m.Model, map[string]any{"messages": msgs}
	}
	url, _, err := m.Provider.URL(m.Account, rest)
	if err != nil {
		return GuardVerdict{}, fmt.Errorf("no URL for the guard model on %s: %v", m.Provider.Slug, err)
	}
	body, err := json.Marshal(payload)
	if err != nil {
		return GuardVerdict{}, err
	}
	type result struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan result, 1)
	go func() {
		req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
		defer func() {
			_ = resp.CloseBodyStream()
			fasthttp.ReleaseResponse(resp)
			fasthttp.ReleaseRequest(req)
		}()
		req.SetRequestURI(url)
		req.Header.SetMethod(fasthttp.MethodPost)
		req.Header.SetContentType("application/json")
		if m.Credential != nil {
			req.Header.Set(m.Credential.Key, m.Credential.Value)
		}
		req.SetBodyRaw(body)
		req.SetTimeout(m.Timeout)
		if err := m.Client.Do(req, resp); err != nil {
			done <- result{err: err}
			return
		}
		var b []byte
		var rerr error
		if s := resp.BodyStream(); s != nil {
			b, rerr = io.ReadAll(io.LimitReader(s, guardMaxAnswer))
		} else {
			b = append([]byte(nil), resp.Body()...)
		}
		done <- result{status: resp.StatusCode(), body: b, err: rerr}
	}()
	timer := time.NewTimer(m.Timeout)
	defer timer.Stop()
	var r result
	select {
	case r = <-done:
	case <-timer.C:
		return GuardVerdict{}, fmt.Errorf("the guard model did not answer within %d ms", m.Timeout.Milliseconds())
	}
	if r.err != nil {
		if ge := upstreamError(m.Provider.Slug, r.err); ge.Code == CodeUpstreamTimeout {
			return GuardVerdict{}, fmt.Errorf("the guard model did not answer within %d ms", m.Timeout.Milliseconds())
		}
		return GuardVerdict{}, errors.New("the guard model on " + m.Provider.Slug + " could not be reached")
	}
	if r.status != 200 {
		return GuardVerdict{}, fmt.Errorf("the guard model answered HTTP %d", r.status)
	}
	return ParseGuardAnswer(r.body)
}

// --- streamed answers ---

// errGuardBlocked stops a relay whose answer the guardrails blocked.
var errGuardBlocked = errors.New("the answer was blocked by guardrails")

// RelayGuarded relays a streamed answer like Relay. With response guardrails on and an
// event stream of a text-generation call, the events are held back until GuardSegment bytes
// of answer text (or the end) have arrived, that segment is judged (with the end of the
// prompt and of the answer already released) and released if allowed. Events without text
// are not held unless text before them is. A BLOCK mid-stream sends the client an SSE error
// event (code 2017) and ends the stream broken (Cut), with the 2017 error logged.
func (x *Exchange) RelayGuarded(w *bufio.Writer) {
	g := x.Req.Guard
	if !g.answers(x) || !isEventStream(x.RespCType) {
		x.Relay(w)
		return
	}
	sg := &segmenter{g: g, x: x, out: w}
	sw := bufio.NewWriterSize(sg, 4<<10)
	x.Relay(sw)
	_ = sw.Flush()
	if !sg.blocked && sg.err == nil {
		// the end (or a cut upstream): judge what is left, then release it
		sg.text = appendEventText(sg.text, sg.pending[sg.complete:])
		sg.complete = len(sg.pending)
		if len(bytes.TrimSpace(sg.text)) > 0 {
			sg.judge()
		}
		if !sg.blocked {
			sg.release()
		}
	}
	if sg.result != nil {
		x.Req.recordGuard(x.Req.guardResponse(), sg.result)
	}
	if sg.blocked {
		if errors.Is(x.ClientErr, errGuardBlocked) {
			x.ClientErr = nil
		}
		if x.ClientErr == nil {
			x.Err, x.cut = Errorf(400, CodeGuardrailAnswer, guardAnswerBlocked), true
		}
	} else if sg.err != nil && errors.Is(x.ClientErr, errGuardBlocked) {
		x.ClientErr = sg.err
	}
}

// segmenter sits under the writer Relay writes to: it holds the events back and releases
// them to out in checked segments.
type segmenter struct {
	g        *Guard
	x        *Exchange
	out      *bufio.Writer
	pending  []byte // bytes not released: complete events, then a partial one
	complete int    // length of the complete events in pending
	text     []byte // answer text of the complete events held, not yet judged
	released []byte // the end of the answer text already released
	result   *events.GuardrailsCheck
	blocked  bool
	err      error // the client went away
}

func (s *segmenter) Write(p []byte) (int, error) {
	if s.blocked || s.err != nil {
		return 0, errGuardBlocked
	}
	s.pending = append(s.pending, p...)
	for {
		n := eventEnd(s.pending[s.complete:])
		if n < 0 {
			break
		}
		s.text = appendEventText(s.text, s.pending[s.complete:s.complete+n])
		s.complete += n
	}
	if len(bytes.TrimSpace(s.text)) >= GuardSegment {
		s.judge()
		if s.blocked {
			return 0, errGuardBlocked
		}
	}
	if len(bytes.TrimSpace(s.text)) == 0 {
		s.release() // nothing held to judge: events without text go on
	}
	if s.err != nil {
		return 0, errGuardBlocked
	}
	return len(p), nil
}

// judge evaluates the text held; on BLOCK it tells the client and marks the stream blocked.
func (s *segmenter) judge() {
	g := s.g
	segment := append(bytes.Clone(tail(s.released, guardContext/2)), ' ')
	segment = append(segment, s.text...)
	c := g.evaluate(g.Response, g.responseBlock, SplitGuardText(segment, GuardChunk), g.answerMessages)
	s.released = tail(append(s.released, s.text...), guardContext)
	s.text = s.text[:0]
	s.merge(c)
	if c.Action == GuardBlock {
		s.blocked = true
		e := Errorf(400, CodeGuardrailAnswer, guardAnswerBlocked)
		ev, _ := json.Marshal(map[string]any{"type": "error", "error": map[string]any{
			"type": "guardrails_blocked", "code": e.Code, "message": e.Message}})
		_, _ = s.out.WriteString("event: error\ndata: " + string(ev) + "\n\n")
		_ = s.out.Flush()
		return
	}
	s.release()
}

// release writes the complete events held to the client.
func (s *segmenter) release() {
	if s.complete == 0 {
		return
	}
	if _, err := s.out.Write(s.pending[:s.complete]); err == nil {
		err = s.out.Flush()
		if err != nil {
			s.err = err
		}
	} else {
		s.err = err
	}
	n := copy(s.pending, s.pending[s.complete:])
	s.pending = s.pending[:n]
	s.complete = 0
}

// merge adds a segment's evaluation to the answer's.
func (s *segmenter) merge(c *events.GuardrailsCheck) {
	if s.result == nil {
		s.result = &events.GuardrailsCheck{Model: c.Model}
	}
	r := s.result
	r.Segments++
	r.Calls += c.Calls
	r.LatencyMs += c.LatencyMs
	r.Action = strongerGuard(r.Action, c.Action)
	if c.Unavailable && !r.Unavailable {
		r.Unavailable, r.Error = true, c.Error
	}
	for _, cat := range c.Categories {
		if !containsString(r.Categories, cat) {
			r.Categories = append(r.Categories, cat)
		}
	}
	sortCategories(r.Categories)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
