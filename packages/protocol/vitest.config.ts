import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: { name: '@parlor/protocol', include: ['src/**/*.test.ts'], environment: 'node' },
})
