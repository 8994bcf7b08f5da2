// The bundle's entry point, imported by bin/run.js. oclif's runner is bundled here, with the
// commands, so that a run loads one copy of @oclif/core, from dist/, and none from node_modules.
export {run} from '@oclif/core/run'
