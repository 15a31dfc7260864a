// Package e2e holds the black-box tests of the flinkdrop binary: each test
// builds nothing itself but runs the binary that TestMain built, against the
// simulator (flinkssim) started in the test process, on temporary folders,
// and checks the promises of SPEC §6 from the outside: the inbox, outbox,
// archive and failed folders, the simulator's aggregations and the
// `flinkdrop status` command.
//
// It has no code outside its tests.
package e2e
