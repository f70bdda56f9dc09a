// util_test.go holds small helpers shared by the e2e tests.
package e2e

import "errors"

func asError[T error](err error, target *T) bool { return err != nil && errors.As(err, target) }
