// condition.go compiles and evaluates a conditional element's MongoDB-style condition:
// an object of request path -> operator object (or a literal meaning $eq), several keys
// ANDed, with $and, $or and $not around them. Regular expressions compile once, here.
// The type rules are in doc.go.
package flows

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Condition is a compiled condition. It is immutable and safe for concurrent use.
type Condition struct {
	root condExpr
	text string // the condition's JSON, compacted
}

type exprKind uint8

const (
	exprAnd exprKind = iota
	exprOr
	exprNot
	exprField
)

// condExpr is one node of a condition: a logical operator over kids, or the tests on one
// field.
type condExpr struct {
	kind   exprKind
	kids   []condExpr
	path   string
	header bool // the path reads a header: numeric text compares as a number with a number
	tests  []fieldTest
}

type testOp uint8

const (
	opEq testOp = iota
	opNe
	opGt
	opGte
	opLt
	opLte
	opIn
	opNin
	opExists
	opRegex
	opNot
)

// fieldTest is one operator applied to a field's value.
type fieldTest struct {
	op      testOp
	operand scalar
	set     []scalar       // $in, $nin
	exists  bool           // $exists
	re      *regexp.Regexp // $regex
	not     []fieldTest    // $not: all of them must fail to hold together
}

type scalarKind uint8

const (
	kindMissing scalarKind = iota
	kindNull
	kindBool
	kindNumber
	kindString
	kindOther // objects and arrays: equal to nothing, ordered with nothing
)

// scalar is an operand, or a field's value normalised for comparison.
type scalar struct {
	kind scalarKind
	b    bool
	n    float64
	s    string
	// numericText: a header value (kindString) that reads as a number n.
	numericText bool
}

// ParseCondition compiles a condition's JSON. The error says which path or operator is
// wrong and why.
func ParseCondition(raw []byte) (*Condition, error) {
	var compact bytes.Buffer
	if err := json.Compact(&compact, raw); err != nil {
		return nil, errors.New("condition is not valid JSON: " + jsonErrorText(err))
	}
	if firstByte(raw) != '{' {
		return nil, errors.New("condition must be a JSON object of request paths and operators")
	}
	root, err := parseExpr(raw, 0)
	if err != nil {
		return nil, err
	}
	return &Condition{root: root, text: compact.String()}, nil
}

// String is the condition's JSON, compacted.
func (c *Condition) String() string { return c.text }

// Match reports whether the request v shows satisfies the condition.
func (c *Condition) Match(v View) bool {
	if v == nil {
		v = emptyView{}
	}
	return c.root.match(v)
}

// sortedObject decodes a JSON object to its members, in key order so that evaluation and
// error messages do not depend on map order.
func sortedObject(raw []byte) ([]string, map[string]json.RawMessage, error) {
	var members map[string]json.RawMessage
	if firstByte(raw) != '{' || json.Unmarshal(raw, &members) != nil {
		return nil, nil, errors.New("is not a JSON object")
	}
	keys := make([]string, 0, len(members))
	for k := range members {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, members, nil
}

// MaxConditionDepth is how deeply $and, $or and $not may nest. Each level decodes its
// part of the JSON again, so the bound also bounds the work a condition costs to compile.
const MaxConditionDepth = 32

// parseExpr compiles a condition object: every key is a request path or $and, $or, $not;
// several keys are ANDed. depth counts the enclosing $and, $or and $not.
func parseExpr(raw []byte, depth int) (condExpr, error) {
	if depth > MaxConditionDepth {
		return condExpr{}, fmt.Errorf("condition nests $and, $or and $not more than %d deep", MaxConditionDepth)
	}
	keys, members, err := sortedObject(raw)
	if err != nil {
		return condExpr{}, errors.New("condition " + err.Error())
	}
	kids := make([]condExpr, 0, len(keys))
	for _, key := range keys {
		kid, err := parseMember(key, members[key], depth)
		if err != nil {
			return condExpr{}, err
		}
		kids = append(kids, kid)
	}
	if len(kids) == 1 {
		return kids[0], nil
	}
	return condExpr{kind: exprAnd, kids: kids}, nil
}

func parseMember(key string, raw json.RawMessage, depth int) (condExpr, error) {
	switch key {
	case "$and", "$or":
		var items []json.RawMessage
		if firstByte(raw) != '[' || json.Unmarshal(raw, &items) != nil || len(items) == 0 {
			return condExpr{}, fmt.Errorf("%s takes a non-empty array of conditions", key)
		}
		e := condExpr{kind: exprAnd}
		if key == "$or" {
			e.kind = exprOr
		}
		for i, item := range items {
			kid, err := parseExpr(item, depth+1)
			if err != nil {
				return condExpr{}, fmt.Errorf("%s[%d]: %w", key, i, err)
			}
			e.kids = append(e.kids, kid)
		}
		return e, nil
	case "$not":
		kid, err := parseExpr(raw, depth+1)
		if err != nil {
			return condExpr{}, fmt.Errorf("$not: %w", err)
		}
		return condExpr{kind: exprNot, kids: []condExpr{kid}}, nil
	}
	if strings.HasPrefix(key, "$") {
		return condExpr{}, fmt.Errorf("unknown operator %q where a request path or $and, $or, $not belongs", key)
	}
	if why := checkPath(key); why != "" {
		return condExpr{}, errors.New(why)
	}
	e := condExpr{kind: exprField, path: key, header: strings.HasPrefix(key, rootHeaders+".")}
	if firstByte(raw) == '{' {
		tests, err := parseOperators(raw, depth)
		if err != nil {
			return condExpr{}, fmt.Errorf("%q: %w", key, err)
		}
		e.tests = tests
		return e, nil
	}
	operand, err := parseScalar(raw)
	if err != nil {
		return condExpr{}, fmt.Errorf("%q: %w", key, err)
	}
	e.tests = []fieldTest{{op: opEq, operand: operand}}
	return e, nil
}

// parseOperators compiles an operator object such as {"$gte": 18, "$lt": 65}: all of its
// operators must hold.
func parseOperators(raw []byte, depth int) ([]fieldTest, error) {
	if depth > MaxConditionDepth {
		return nil, fmt.Errorf("$not nests more than %d deep", MaxConditionDepth)
	}
	keys, members, err := sortedObject(raw)
	if err != nil {
		return nil, err
	}
	if len(keys) == 0 {
		return nil, errors.New("empty operator object")
	}
	tests := make([]fieldTest, 0, len(keys))
	for _, key := range keys {
		if !strings.HasPrefix(key, "$") {
			return nil, fmt.Errorf("value is an object with key %q; compare with operators such as {\"$eq\": ...}", key)
		}
		if key == "$options" {
			if _, ok := members["$regex"]; !ok {
				return nil, errors.New("$options without $regex")
			}
			continue
		}
		test, err := parseOperator(key, members[key], members["$options"], depth)
		if err != nil {
			return nil, err
		}
		tests = append(tests, test)
	}
	return tests, nil
}

func parseOperator(op string, raw, options json.RawMessage, depth int) (fieldTest, error) {
	switch op {
	case "$eq", "$ne":
		operand, err := parseScalar(raw)
		if err != nil {
			return fieldTest{}, fmt.Errorf("%s: %w", op, err)
		}
		t := fieldTest{op: opEq, operand: operand}
		if op == "$ne" {
			t.op = opNe
		}
		return t, nil
	case "$gt", "$gte", "$lt", "$lte":
		operand, err := parseScalar(raw)
		if err != nil || (operand.kind != kindNumber && operand.kind != kindString) {
			return fieldTest{}, fmt.Errorf("%s takes a number or a string", op)
		}
		ops := map[string]testOp{"$gt": opGt, "$gte": opGte, "$lt": opLt, "$lte": opLte}
		return fieldTest{op: ops[op], operand: operand}, nil
	case "$in", "$nin":
		var items []json.RawMessage
		if firstByte(raw) != '[' || json.Unmarshal(raw, &items) != nil {
			return fieldTest{}, fmt.Errorf("%s takes an array of strings, numbers, booleans or null", op)
		}
		t := fieldTest{op: opIn, set: make([]scalar, 0, len(items))}
		if op == "$nin" {
			t.op = opNin
		}
		for i, item := range items {
			operand, err := parseScalar(item)
			if err != nil {
				return fieldTest{}, fmt.Errorf("%s[%d]: %w", op, i, err)
			}
			t.set = append(t.set, operand)
		}
		return t, nil
	case "$exists":
		var want bool
		if json.Unmarshal(raw, &want) != nil {
			return fieldTest{}, errors.New("$exists takes true or false")
		}
		return fieldTest{op: opExists, exists: want}, nil
	case "$regex":
		var pattern string
		if firstByte(raw) != '"' || json.Unmarshal(raw, &pattern) != nil {
			return fieldTest{}, errors.New("$regex takes a string")
		}
		flags, err := regexOptions(options)
		if err != nil {
			return fieldTest{}, err
		}
		re, err := regexp.Compile(flags + pattern)
		if err != nil {
			return fieldTest{}, fmt.Errorf("$regex %q does not compile: %s", pattern, strings.TrimPrefix(err.Error(), "error parsing regexp: "))
		}
		return fieldTest{op: opRegex, re: re}, nil
	case "$not":
		if firstByte(raw) != '{' {
			return fieldTest{}, errors.New("$not on a field takes an operator object such as {\"$gt\": 5}")
		}
		not, err := parseOperators(raw, depth+1)
		if err != nil {
			return fieldTest{}, fmt.Errorf("$not: %w", err)
		}
		return fieldTest{op: opNot, not: not}, nil
	}
	return fieldTest{}, fmt.Errorf("unknown operator %q", op)
}

// regexOptions turns $options into Go's inline flags: i (case-insensitive), m (^ and $
// match at line breaks), s (. matches a line break).
func regexOptions(raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", nil
	}
	var options string
	if firstByte(raw) != '"' || json.Unmarshal(raw, &options) != nil {
		return "", errors.New("$options takes a string such as \"i\"")
	}
	if options == "" {
		return "", nil
	}
	for _, c := range options {
		if c != 'i' && c != 'm' && c != 's' {
			return "", fmt.Errorf("$options %q: only i, m and s are supported", options)
		}
	}
	return "(?" + options + ")", nil
}

// parseScalar reads an operand: a string, a number, a boolean or null.
func parseScalar(raw []byte) (scalar, error) {
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		return scalar{}, errors.New("operand is not valid JSON")
	}
	s := toScalar(v, true, false)
	if s.kind == kindOther {
		return scalar{}, errors.New("operand must be a string, a number, a boolean or null")
	}
	return s, nil
}

// toScalar normalises a looked-up value. header marks a header's text, which also reads
// as a number when it is one.
func toScalar(v any, found, header bool) scalar {
	if !found {
		return scalar{kind: kindMissing}
	}
	switch x := v.(type) {
	case nil:
		return scalar{kind: kindNull}
	case string:
		s := scalar{kind: kindString, s: x}
		if header {
			s.n, s.numericText = numericText(x)
		}
		return s
	case bool:
		return scalar{kind: kindBool, b: x}
	case float64:
		return scalar{kind: kindNumber, n: x}
	case json.Number:
		if f, err := strconv.ParseFloat(string(x), 64); err == nil {
			return scalar{kind: kindNumber, n: f}
		}
		return scalar{kind: kindOther}
	}
	if f, ok := otherNumber(v); ok {
		return scalar{kind: kindNumber, n: f}
	}
	return scalar{kind: kindOther}
}

// otherNumber reads the Go number types metadata built in code may hold.
func otherNumber(v any) (float64, bool) {
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case int:
		return float64(x), true
	case int8:
		return float64(x), true
	case int16:
		return float64(x), true
	case int32:
		return float64(x), true
	case int64:
		return float64(x), true
	case uint:
		return float64(x), true
	case uint8:
		return float64(x), true
	case uint16:
		return float64(x), true
	case uint32:
		return float64(x), true
	case uint64:
		return float64(x), true
	}
	return 0, false
}

// numericText reads text written as a JSON number (optional minus or plus, digits, an
// optional fraction and exponent): "42", "-1.5", "2e3". "0x10", "Inf" and "1_000" are text.
func numericText(s string) (float64, bool) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
		digits++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			digits++
		}
	}
	if digits == 0 {
		return 0, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		exponent := 0
		for ; i < len(s) && s[i] >= '0' && s[i] <= '9'; i++ {
			exponent++
		}
		if exponent == 0 {
			return 0, false
		}
	}
	if i != len(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) {
		return 0, false
	}
	return f, true
}

func (e *condExpr) match(v View) bool {
	switch e.kind {
	case exprAnd:
		for i := range e.kids {
			if !e.kids[i].match(v) {
				return false
			}
		}
		return true
	case exprOr:
		for i := range e.kids {
			if e.kids[i].match(v) {
				return true
			}
		}
		return false
	case exprNot:
		return !e.kids[0].match(v)
	}
	val, found := v.Lookup(e.path)
	return allHold(e.tests, toScalar(val, found, e.header))
}

func allHold(tests []fieldTest, val scalar) bool {
	for i := range tests {
		if !tests[i].holds(val) {
			return false
		}
	}
	return true
}

func (t *fieldTest) holds(val scalar) bool {
	switch t.op {
	case opEq:
		return equal(val, t.operand)
	case opNe:
		return !equal(val, t.operand)
	case opGt:
		c, ok := compare(val, t.operand)
		return ok && c > 0
	case opGte:
		c, ok := compare(val, t.operand)
		return ok && c >= 0
	case opLt:
		c, ok := compare(val, t.operand)
		return ok && c < 0
	case opLte:
		c, ok := compare(val, t.operand)
		return ok && c <= 0
	case opIn, opNin:
		in := false
		for i := range t.set {
			if equal(val, t.set[i]) {
				in = true
				break
			}
		}
		return in == (t.op == opIn)
	case opExists:
		return (val.kind != kindMissing) == t.exists
	case opRegex:
		return val.kind == kindString && t.re.MatchString(val.s)
	case opNot:
		return !allHold(t.not, val)
	}
	return false
}

// equal is $eq: null matches a missing field or null; otherwise only values of the same
// type are equal (a header's numeric text equals a number).
func equal(val, operand scalar) bool {
	switch operand.kind {
	case kindNull:
		return val.kind == kindMissing || val.kind == kindNull
	case kindBool:
		return val.kind == kindBool && val.b == operand.b
	case kindNumber:
		return (val.kind == kindNumber || val.numericText) && val.n == operand.n
	case kindString:
		return val.kind == kindString && val.s == operand.s
	}
	return false
}

// compare orders a value against a number or string operand; ok is false for any other
// pairing (booleans, null, missing, mixed types).
func compare(val, operand scalar) (int, bool) {
	switch operand.kind {
	case kindNumber:
		if val.kind != kindNumber && !val.numericText {
			return 0, false
		}
		switch {
		case val.n < operand.n:
			return -1, true
		case val.n > operand.n:
			return 1, true
		case val.n == operand.n:
			return 0, true
		}
		return 0, false // NaN, from metadata built in code
	case kindString:
		if val.kind != kindString {
			return 0, false
		}
		return strings.Compare(val.s, operand.s), true
	}
	return 0, false
}
