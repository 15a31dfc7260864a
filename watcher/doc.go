// Package watcher turns inbox folders into batches of complete files: one
// batch per folder, taken once every file is stable and the folder has
// settled or shown its ready marker.
package watcher
