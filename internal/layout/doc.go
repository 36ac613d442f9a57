// Package layout has no code: its tests keep idp's shape as the README's Layout section
// describes it. Data flows one way (cmd → workflows → activities → internal), each activity
// package owns one external system and never imports a sibling, nothing under internal/
// depends on an activity, and files and functions stay small enough to read.
package layout
