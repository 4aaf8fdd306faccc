DROP TABLE demo_tenant;
