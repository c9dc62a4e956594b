import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: { name: 'parlor-relay', include: ['src/**/*.test.ts'], environment: 'node' },
})
