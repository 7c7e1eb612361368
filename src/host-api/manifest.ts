// Host API 1.0, §1: the plugin manifest and its schema (the host validates with exactly this).
import { z } from 'zod';
import * as semver from 'semver';

const localized = z.object({ de: z.string().min(1), en: z.string().min(1) }).strict();
const contributionId = z.string().regex(/^[a-z0-9][a-z0-9.-]*$/, 'lowercase letters, digits, "." and "-"');

export const PluginManifestSchema = z
  .object({
    id: z.string().regex(/^[a-z0-9-]+$/, 'only a-z, 0-9 and "-"'),
    displayName: localized,
    version: z.string().refine((v) => semver.valid(v) !== null, 'must be a semantic version like 1.2.3'),
    main: z.string().min(1),
    engines: z.object({ host: z.string().refine((r) => semver.validRange(r) !== null, 'must be a semver range like ^1.0.0') }),
    activation: z.object({ featureFlag: z.string().min(1) }),
    contributes: z
      .object({
        settingsPages: z
          .array(z.object({ id: contributionId, group: z.string().min(1), order: z.number(), title: localized }))
          .default([]),
        startupGuards: z.array(z.object({ id: contributionId, order: z.number() })).default([]),
        storageProviders: z.array(z.object({ id: contributionId })).default([]),
      })
      .strict(),
  });
export type PluginManifest = z.infer<typeof PluginManifestSchema>;

/** The API version a host of this copy of the contract implements. */
export const HOST_API_VERSION = '1.1.0';
