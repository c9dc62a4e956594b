import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: { name: '@parlor/engine', include: ['src/**/*.test.ts'], environment: 'node' },
})
