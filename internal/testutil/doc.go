// Package testutil holds helpers shared by the tests of several packages: a
// goroutine-safe buffer, a wait on a condition with a deadline, and file
// helpers. It is for _test.go files only; every helper takes a testing.TB
// and calls t.Helper().
package testutil
