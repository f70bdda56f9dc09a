// corpus_test.go: shared sample texts for tests and benchmarks.
package dlp

// ordinaryText is ~1 KB of prompt-like prose and code with nothing sensitive in it.
var ordinaryText = func() string {
	s := `You are a helpful assistant. Summarize the following meeting notes in three bullet points.
The team discussed the Q3 roadmap, including the migration of 42 services to the new cluster,
the budget of 1,250,000 dollars and the hiring plan for 2025. Maria suggested we review the
latency numbers again: p50 was 120 ms and p99 was 870 ms on 2024-06-11. The next meeting is on
Thursday at 10:30 in room 4B. Action items: update the design doc, write tests for the parser,
and check why build #8812 failed. Code: for i := 0; i < len(items); i++ { total += items[i].Price * 3 }
Please answer in plain English, with no more than 120 words, and avoid jargon where possible.
Remember that the audience includes people from sales, legal and engineering, version 2.3.1.
`
	for len(s) < 1024 {
		s += "Also mention the risks we identified and who owns each follow-up task. "
	}
	return s[:1024]
}()

// findingsText is ~1 KB with a handful of findings across profiles.
var findingsText = func() string {
	s := `Hi, please update my profile. My card is 4111 1111 1111 1111 (exp 12/27) and my email is
jane.doe@example.com; phone +1 415 555 2671. SSN 123-45-6789, IBAN DE89 3704 0044 0532 0130 00.
Here is the config: AWS key AKIAIOSFODNN7EXAMPLE and Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U
`
	o := ordinaryText
	return (s + o)[:1024]
}()
