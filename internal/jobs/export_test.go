package jobs

import "context"

// Tick claims and starts the due tasks now, as the runner's loop does
// every Poll, and returns their names.
func (r *Runner) Tick(ctx context.Context) ([]string, error) { return r.tick(ctx) }

// WaitIdle waits until the tasks this runner started have returned and
// their outcomes are recorded.
func (r *Runner) WaitIdle() { r.runs.Wait() }
