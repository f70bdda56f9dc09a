// Package flows is dynamic routes: the route JSON of the hosted product ({id, name,
// elements}), its validation, compilation to an immutable Graph, MongoDB-style conditions
// and the pure walk step. Like etcd's raft package it is a state machine with the I/O
// outside: the caller feeds a Walker the outcome of the last step (a model answered, a
// limit admitted) and gets the next step. flows imports nothing of ours, does no I/O and
// owns no clock or randomness: both are injected.
//
// # Using it
//
//	route, err := flows.ParseRoute(data)          // or ParseElements for a bare array
//	graph, problems := flows.Compile(route.Elements)
//	w := graph.Walk(flows.NewView(metadata, body, header), rng.Float64)
//	for step := w.Next(flows.OutcomeNone); step.Kind != flows.StepEnd; {
//		switch step.Kind {
//		case flows.StepLimit: // ask the limiter for step.Node.Limit on bucket step.LimitKey
//		case flows.StepModel: // call step.Node.Model
//		}
//		step = w.Next(outcome) // OutcomeSuccess or OutcomeFallback
//	}
//
// # Request paths
//
// Conditions and rate_limit keys read the request through paths:
//
//   - metadata.<key>: a cf-aig-metadata entry; everything after "metadata." is the key.
//   - body.<a>.<b>: a field of the JSON body, one dotted segment per level; a segment of
//     decimal digits indexes an array (body.messages.0.role). The body is decoded once,
//     on the first body path read; a body that is not JSON reads as missing.
//   - headers.<name>: a request header, case-insensitively. An empty header reads as
//     missing.
//
// # Conditions
//
// A condition is a JSON object of path -> operator object, or path -> literal (meaning
// $eq). Several keys must all hold. $and and $or take a non-empty array of conditions,
// $not one condition; they may appear at the top and nested. On a field, an operator
// object such as {"$gte": 18, "$lt": 65} must hold for every operator, and {"$not": {...}}
// negates one. The operators are $eq $ne $gt $gte $lt $lte $in $nin $exists $regex
// ($options may add i, m and s). An empty condition {} always holds. Operands are strings,
// numbers, booleans or null; $gt and friends take a number or a string; $in and $nin take
// an array of operands; $exists takes true or false; $regex takes an RE2 pattern (Go's
// regexp), compiled once when the route compiles. $and, $or and $not nest at most
// MaxConditionDepth (32) deep.
//
// Type rules:
//
//   - JSON numbers are float64: 1 and 1.0 are equal.
//   - Numbers compare with numbers, strings with strings (lexicographically, byte by
//     byte). Booleans are only equal or not equal ($eq, $ne, $in, $nin).
//   - A header's value is always text. When it reads as a number (JSON number syntax:
//     "42", "-1.5", "2e3") it also compares as a number with a number operand, so
//     {"headers.x-tier": {"$gte": 2}} holds for "x-tier: 3". Metadata and body strings do
//     not: "42" in metadata is text.
//   - Values of different types never match: {"$eq": 1} does not hold for "1" in metadata,
//     {"$gt": "a"} does not hold for 5. $ne and $nin then hold.
//   - A missing field: {"$exists": false}, $ne and $nin hold; every other operator does
//     not, except {"$eq": null} (and null in $in), which holds for a missing field or a
//     null value. {"$exists": true} holds for null.
//   - $regex holds only for strings (header values included), never for numbers.
//   - Objects and arrays in the body equal nothing and order with nothing; a condition
//     reads a leaf through its path (body.tags.0), it does not search arrays.
//
// # Percentage
//
// A percentage element's outputs are named "<number>%" (fractions allowed, "12.5%") and
// optionally "else". Each walk draws r from the injected random source and goes through
// the weighted outputs in name order by cumulative weight / 100; r beyond their sum takes
// "else".
package flows
