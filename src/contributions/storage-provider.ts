// Thin adapter: the storage provider extension point onto CloudStorageService.
import { inject, injectable } from 'inversify';
import type { Observable } from 'rxjs';
import type { AccessStatus, PracticeStore, StorageProviderContribution, SyncStatus } from '../host-api';
import { CloudStorageService } from '../services/cloud-storage-service';

@injectable()
export class CloudStorageProvider implements StorageProviderContribution {
  readonly id = 'cloud-storage.provider';
  readonly access$: Observable<AccessStatus>;
  readonly sync$: Observable<SyncStatus>;

  constructor(@inject(CloudStorageService) protected readonly service: CloudStorageService) {
    this.access$ = service.access$;
    this.sync$ = service.sync$;
  }

  isActive(): boolean {
    return this.service.isActive;
  }

  open(): Promise<PracticeStore> {
    return this.service.open();
  }
}
