// route.go holds the route JSON as the control API stores it and the types a compiled
// route hands its caller: nodes, their model and limit settings, steps and visits.
package flows

import (
	"encoding/json"
	"time"
)

// Route is a route as the hosted JSON configuration writes it.
type Route struct {
	ID       string    `json:"id,omitempty"`
	Name     string    `json:"name,omitempty"`
	Elements []Element `json:"elements"`
}

// Element is one element of a route, as sent. Properties are decoded by Compile, per type.
type Element struct {
	ID         string            `json:"id"`
	Type       string            `json:"type"`
	Properties json.RawMessage   `json:"properties,omitempty"`
	Outputs    map[string]Output `json:"outputs,omitempty"`
}

// Output names the element an output leads to.
type Output struct {
	ElementID string `json:"elementId"`
}

// Problem is one reason a route is invalid. ElementID is empty for problems of the whole
// route (no start element, undecodable JSON).
type Problem struct {
	ElementID string `json:"element_id,omitempty"`
	Message   string `json:"message"`
}

// Problems are every problem Compile found; as an error they read as one line.
type Problems []Problem

// Kind is an element type.
type Kind uint8

// Element kinds. The JSON type names are "start", "conditional", "percentage",
// "rate_limit" (cloudflare-go's enum spells it "rate": both are accepted), "model", "end".
const (
	KindStart Kind = iota + 1
	KindConditional
	KindPercentage
	KindRateLimit
	KindModel
	KindEnd
)

// ModelSpec is a model element's properties.
type ModelSpec struct {
	Provider string
	Model    string
	Timeout  time.Duration // 0: no timeout of its own
	Retries  int           // retries after the first try
}

// LimitSpec is a rate_limit element's properties.
type LimitSpec struct {
	Cost     bool   // limitType "cost" (USD); false is "count" (requests)
	Key      string // request path whose value names the bucket, e.g. "metadata.user_id"
	Limit    float64
	Interval time.Duration // whole seconds
	Sliding  bool          // technique "sliding"; false is "fixed"
}

// Outcome is what the caller reports about the step the walker last returned.
type Outcome uint8

const (
	// OutcomeNone starts a walk.
	OutcomeNone Outcome = iota
	// OutcomeSuccess: the limit admitted the request, or the model started answering.
	OutcomeSuccess
	// OutcomeFallback: the limit refused the request, or the model failed after its
	// retries or timed out.
	OutcomeFallback
)

// StepKind is what the caller has to do next.
type StepKind uint8

const (
	// StepLimit: ask the limiter for Step.Node's limit on bucket Step.LimitKey.
	StepLimit StepKind = iota + 1
	// StepModel: call Step.Node's model.
	StepModel
	// StepEnd: the walk is over (see Step.Answered, Refused, Failed).
	StepEnd
)

// Step is the walker's answer.
type Step struct {
	Kind StepKind
	// Node is the rate_limit or model node to act on; for StepEnd, the node the walk
	// ended at (an end node, or the limit or model node that had no fallback).
	Node *Node
	// LimitKey is the text of the value at Node.Limit.Key (numbers in their shortest
	// form); KeyMissing is set, and LimitKey empty, when the request has no such value.
	LimitKey   string
	KeyMissing bool
	// Answered (StepEnd): a model node succeeded; its answer is the route's answer.
	Answered bool
	// Refused (StepEnd): the rate_limit node that refused the request without a fallback.
	Refused *Node
	// Failed (StepEnd): the model node that failed without a fallback.
	Failed *Node
}

// Visit is one node the walk went through and the output it took ("next", "true",
// "false", "10%", "else", "success", "fallback"; empty for end and for a node where the
// walk stopped).
type Visit struct {
	ElementID string `json:"element_id"`
	Type      string `json:"type"`
	Output    string `json:"output,omitempty"`
}

// Node is one compiled element. Nodes and their edges never change once compiled.
type Node struct {
	ID    string
	Kind  Kind
	Model *ModelSpec // model nodes
	Limit *LimitSpec // rate_limit nodes
	// Outputs are the node's edges: sorted by name, with "else" last on a percentage node.
	Outputs []Edge
	// Condition is a conditional node's compiled condition.
	Condition *Condition

	// The walk's shortcuts: next is "next", "true" or "success"; alt is "false" or
	// "fallback"; elseTo is a percentage node's "else".
	next, alt, elseTo *Node
}

// Edge is one output of a node.
type Edge struct {
	Name string
	To   *Node
	// Weight is a percentage output's weight in percent ("12.5%" is 12.5); 0 otherwise.
	Weight float64

	upTo float64 // percentage outputs: the cumulative weight up to this one, as a fraction
}
