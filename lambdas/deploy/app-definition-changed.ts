/** The event that deploys an app without a person: EventBridge in the cloud, the in-process bus locally. */
export const APP_DEFINITION_CHANGED = { source: 'hostplane.apps', detailType: 'App Definition Changed' } as const;

/** The detail of an "App Definition Changed" event. */
export interface AppDefinitionChangedDetail {
  readonly tenantId: string;
  readonly definition: unknown;
  readonly allowDestructive?: boolean;
  /** Who changed it (a repository, a console user); recorded as the deployment's requester. */
  readonly changedBy?: string;
}
