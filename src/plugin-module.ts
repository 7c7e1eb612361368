// The plugin's one ContainerModule: reading this file tells everything the plugin contributes.
import 'reflect-metadata';
import { ContainerModule } from 'inversify';
import { SettingsPageContribution, StartupGuardContribution, StorageProviderContribution } from './host-api';
import { CloudStorageSettingsPage } from './contributions/settings-page';
import { CloudStorageStartupGuard } from './contributions/startup-guard';
import { CloudStorageProvider } from './contributions/storage-provider';
import { FolderClassifier } from './services/access/folder-classifier';
import { CommandRunner, ProcessCommandRunner, ShareConnector } from './services/access/share-connector';
import { SharedFolderProbe } from './services/access/shared-folder-probe';
import { CloudStorageService, StoreDiagnostics } from './services/cloud-storage-service';
import { CloudConfigStore } from './services/config/cloud-config';
import { CredentialStore, KeytarCredentialStore } from './services/credentials/credential-store';
import { StartupFlow } from './services/guard/startup-flow';
import { ShareLogin } from './services/access/share-login';
import { ServerAccess } from './services/remote/server-access';
import { StoreKeys } from './services/crypto/store-keys';
import { StoreSetup } from './services/setup/store-setup';
import { Notices } from './services/common/notices';
import { DeviceIdentity, MachineFingerprint, defaultMachineFingerprint } from './services/identity/device-identity';

export const pluginModule = new ContainerModule(({ bind, isBound }) => {
  // Services (one instance each for the plugin's lifetime). A host or a test may bind its own first.
  if (!isBound(CredentialStore)) bind(CredentialStore).toDynamicValue(() => new KeytarCredentialStore()).inSingletonScope();
  if (!isBound(CommandRunner)) bind(CommandRunner).to(ProcessCommandRunner).inSingletonScope();
  if (!isBound(MachineFingerprint)) bind(MachineFingerprint).toConstantValue(defaultMachineFingerprint);
  bind(Notices).toSelf().inSingletonScope();
  bind(FolderClassifier).toSelf().inSingletonScope(); // reads ClassifierContext when the host binds one
  bind(CloudConfigStore).toSelf().inSingletonScope();
  bind(DeviceIdentity).toSelf().inSingletonScope();
  bind(SharedFolderProbe).toSelf().inSingletonScope();
  bind(ShareConnector).toSelf().inSingletonScope();
  bind(ShareLogin).toSelf().inSingletonScope();
  bind(ServerAccess).toSelf().inSingletonScope();
  bind(StoreKeys).toSelf().inSingletonScope();
  bind(CloudStorageService)
    .toSelf()
    .inSingletonScope()
    .onDeactivation((s) => s.dispose()); // unload closes the store, stops timers, watchers and the lock
  bind(StoreDiagnostics).toService(CloudStorageService);
  bind(StoreSetup).toSelf().inSingletonScope();
  bind(StartupFlow).toSelf().inSingletonScope();

  // Contributions: bound once, exposed with toService (never a second instance).
  bind(CloudStorageSettingsPage).toSelf().inSingletonScope().onDeactivation((p) => p.dispose());
  bind(CloudStorageStartupGuard).toSelf().inSingletonScope();
  bind(CloudStorageProvider).toSelf().inSingletonScope();
  bind(SettingsPageContribution).toService(CloudStorageSettingsPage);
  bind(StartupGuardContribution).toService(CloudStorageStartupGuard);
  bind(StorageProviderContribution).toService(CloudStorageProvider);
});

export default pluginModule;
