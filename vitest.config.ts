import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Integration tests start real processes (the built CLI, shells, engines).
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
})
