#!/usr/bin/env node
// Runs the TypeScript entry point in this process through tsx's loader (no build step, and no
// child process, so signals and the exit code are the relay's own).
import { register } from 'tsx/esm/api'

register()
await import('../src/main.ts')
