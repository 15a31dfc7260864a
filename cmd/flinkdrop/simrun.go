package main

import (
	"context"
	"io"

	"github.com/flinkdrop/flinkdrop/flinkssim"
)

func flinkssimRun(ctx context.Context, dir, addr, fraudAddr string, out io.Writer) error {
	return flinkssim.Run(ctx, flinkssim.Options{Dir: dir, Addr: addr, FraudAddr: fraudAddr}, out)
}
