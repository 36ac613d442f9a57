// Package imagewatch turns pushed images into promotions without anyone typing a command:
// it reads and authenticates the ECR push events Amazon EventBridge delivers, decides which
// of a repository's tags the polling fallback promotes, starts Promote for them exactly once
// (the workflow ID promote-<service>-<tag> is the key), and keeps the polling schedules.
// The worker's event endpoint, the watch's activities and `starter image-watch` share it.
package imagewatch
