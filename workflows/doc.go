// Package workflows holds idp's deterministic orchestration: BootstrapEnvironment, the approval
// gate it shares with promotion, and the status document every run publishes. It does no I/O;
// activities under activities/ talk to the outside world.
package workflows
